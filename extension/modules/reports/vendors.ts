// Vendor scorecard: not built yet (this stub keeps the routes registered while it is).
import { z } from 'zod';
import { notBuilt } from './not-built.ts';
import type { ReportModule } from './report.ts';

const filters = z.object({});

export const vendorsReport: ReportModule<typeof filters> = {
  name: 'vendors',
  title: 'Vendor scorecard',
  summary: 'not built yet',
  access: { permission: 'reports:read', capability: 'dispatch.vendors' },
  filters,
  figures: () => notBuilt(),
  rows: () => notBuilt(),
};

// Overview: not built yet (this stub keeps the routes registered while it is).
import { z } from 'zod';
import { notBuilt } from './not-built.ts';
import type { ReportModule } from './report.ts';

const filters = z.object({});

export const overviewReport: ReportModule<typeof filters> = {
  name: 'overview',
  title: 'Overview',
  summary: 'not built yet',
  access: { permission: 'reports:own', capability: null },
  filters,
  figures: () => notBuilt(),
  rows: () => notBuilt(),
};

// Pipeline funnel: not built yet (this stub keeps the routes registered while it is).
import { z } from 'zod';
import { notBuilt } from './not-built.ts';
import type { ReportModule } from './report.ts';

const filters = z.object({});

export const funnelReport: ReportModule<typeof filters> = {
  name: 'funnel',
  title: 'Pipeline funnel',
  summary: 'not built yet',
  access: { permission: 'reports:own', capability: 'crm.deals' },
  filters,
  figures: () => notBuilt(),
  rows: () => notBuilt(),
};

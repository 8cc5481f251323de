// Dispatch: not built yet (this stub keeps the routes registered while it is).
import { z } from 'zod';
import { notBuilt } from './not-built.ts';
import type { ReportModule } from './report.ts';

const filters = z.object({});

export const dispatchReport: ReportModule<typeof filters> = {
  name: 'dispatch',
  title: 'Dispatch',
  summary: 'not built yet',
  access: { permission: 'reports:read', capability: 'dispatch.jobs' },
  filters,
  figures: () => notBuilt(),
  rows: () => notBuilt(),
};

// GET /api/v1/admin/system — the sweeps and backlogs behind this account (see service.ts).
// /health/ready stays about whether this process can serve; this is about whether the work behind it runs.
import { z } from 'zod';
import { sendData } from '../../http/envelope.ts';
import { defineRoute } from '../../http/registry.ts';
import { systemStatus } from './service.ts';

const when = z.iso.datetime({ offset: true }).nullable();
const count = z.number().int().min(0);

const systemResponse = z.object({
  sweeps: z.array(
    z.object({
      sweep: z.string().describe('The scheduled job: job-sla, task-reminders, chatwoot-sync, chatwoot-stalled-deliveries, chatwoot-outbox, …'),
      last_run_at: z.iso.datetime({ offset: true }),
      last_finished_at: when,
      last_success_at: when.describe('The last run that finished without failing as a whole'),
      failing: z.boolean().describe('The last finished run failed as a whole, or failed for this account'),
      last_error: z.string().nullable().describe('This account’s last error; an error outside any account’s part is only said to have happened'),
      last_error_at: when,
      failures: count.describe('Failed runs and failures of this account’s part, since the sweep first ran'),
    }),
  ),
  backlog: z.object({
    webhook_deliveries: z.object({
      pending: count,
      retrying: count,
      failed: count,
      dead: count,
      unattributed: count.describe('Deliveries to this account’s installation not yet read (their account is not known yet)'),
    }),
    outbox: z.object({ pending: count, dead: count }).describe('Write-backs to Chatwoot'),
  }),
});

export function systemRoutes() {
  return [
    defineRoute({
      method: 'get',
      path: '/admin/system',
      summary: 'The scheduled sweeps (last run, last error, failures) and the backlogs of webhook deliveries and write-backs',
      tags: ['admin'],
      access: { permission: 'admin:system', capability: null },
      response: systemResponse,
      handler: async ({ ctx, res }) => {
        sendData(res, await systemStatus(ctx));
      },
    }),
  ];
}

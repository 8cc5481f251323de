// The job queue (pg-boss, in Postgres): recurring sweeps now, Chatwoot/Twilio work later.
// It runs inside the server process by default; pg-boss keeps its tables in its own schema.
import type { Knex } from 'knex';
import PgBoss from 'pg-boss';
import type { Logger } from '../logger.ts';
import { emitTaskReminders } from '../modules/tasks/service.ts';

export const queues = { taskReminders: 'task-reminders' } as const;

export interface QueueOptions { url: string; schema: string; db: Knex; logger: Logger; pollingIntervalSeconds?: number }

export async function startQueue({ url, schema, db, logger, pollingIntervalSeconds = 2 }: QueueOptions): Promise<PgBoss> {
  const boss = new PgBoss({ connectionString: url, schema: `${schema}_queue`, application_name: 'onelink-queue' });
  boss.on('error', (err) => logger.error({ err }, 'queue error'));
  await boss.start();
  await boss.createQueue(queues.taskReminders);
  // Every minute; a sweep is idempotent, so an extra or overlapping run changes nothing.
  await boss.schedule(queues.taskReminders, '* * * * *');
  await boss.work(queues.taskReminders, { pollingIntervalSeconds }, async () => {
    const emitted = await emitTaskReminders(db);
    if (emitted) logger.info({ emitted }, 'task reminders emitted');
  });
  return boss;
}

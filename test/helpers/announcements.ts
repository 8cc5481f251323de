// Listening to the change channel the way a process's change feed does, to see what a piece of
// work announced to the pages following an account.
import pg from 'pg';
import { changeChannel } from '../../extension/events/changes.ts';

/** The account ids announced while `work` runs and during the debounce after it. */
export async function announcementsDuring(databaseUrl: string, work: () => Promise<void>): Promise<string[]> {
  const listener = new pg.Client({ connectionString: databaseUrl });
  await listener.connect();
  const heard: string[] = [];
  listener.on('notification', (m) => heard.push(m.payload ?? ''));
  await listener.query(`listen ${changeChannel}`);
  try {
    await work();
    await new Promise((resolve) => setTimeout(resolve, 600)); // announcements are debounced (200 ms)
    return heard;
  } finally {
    await listener.end();
  }
}

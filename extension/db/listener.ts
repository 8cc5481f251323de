// One LISTEN connection for a worker that must not go deaf: when Postgres restarts or the
// connection drops, it connects again (waiting longer each time, up to 10 s) and tells the worker,
// which then looks for the work it may have missed meanwhile. Notifications are only a nudge;
// the worker's own sweep still finds anything a lost one would have announced.
import pg from 'pg';
import type { Logger } from '../logger.ts';

export interface Listener { stop(): Promise<void> }

export interface ListenerOptions {
  url: string;
  applicationName: string;
  channel: string;
  logger: Logger;
  onNotification(payload: string | undefined): void;
  /** After a reconnect: whatever was announced while nobody listened must be looked for. */
  onReconnected(): void;
}

const maxWaitMs = 10_000;

/** Connects and listens (rejects when the first connection fails), then keeps listening. */
export async function startListener(options: ListenerOptions): Promise<Listener> {
  const { logger } = options;
  let stopped = false;
  let client: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  let failures = 0;

  const connect = async () => {
    const next = new pg.Client({ connectionString: options.url, application_name: options.applicationName });
    next.on('notification', (message) => options.onNotification(message.payload));
    // An error or an end we did not ask for: drop this client and connect again.
    const lost = (err?: Error) => {
      if (stopped || client !== next) return;
      client = undefined;
      logger.warn({ err, channel: options.channel }, 'listen connection lost; connecting again');
      void next.end().catch(() => undefined);
      schedule();
    };
    next.on('error', lost);
    next.on('end', () => lost());
    client = next;
    try {
      await next.connect();
      await next.query(`listen ${options.channel}`);
    } catch (err) {
      if (client === next) client = undefined;
      void next.end().catch(() => undefined);
      throw err;
    }
  };

  const schedule = () => {
    if (stopped || retry) return;
    const waitMs = Math.min(maxWaitMs, 250 * 2 ** failures);
    retry = setTimeout(() => {
      retry = undefined;
      connect().then(
        () => {
          failures = 0;
          logger.info({ channel: options.channel }, 'listening again');
          options.onReconnected();
        },
        (err: unknown) => {
          failures += 1;
          logger.debug({ err, channel: options.channel }, 'listen connection not back yet');
          schedule();
        },
      );
    }, waitMs);
  };

  await connect();
  return {
    async stop() {
      stopped = true;
      clearTimeout(retry);
      const current = client;
      client = undefined;
      await current?.end().catch(() => undefined);
    },
  };
}

// What route modules are built from: the database, the secret sealer and the settings they need.
import type { Knex } from 'knex';
import type { AuthSettings } from './auth/sessions.ts';
import type { Config } from './config.ts';
import type { ChannelSenders } from './notifications/channels/types.ts';
import type { JobSender } from './queue/names.ts';
import type { Sealer, UrlSigner } from './security/crypto.ts';
import type { FileStorage } from './storage/index.ts';

/**
 * The virus-scan hook: called on every upload before it is kept. `infected` refuses it; the
 * default scanner scans nothing and says so (`not_scanned`), which the artifact records.
 */
export type FileScanner = (file: { path: string; contentType: string; size: number }) => Promise<'clean' | 'infected' | 'not_scanned'>;
export const noScanner: FileScanner = async () => 'not_scanned';

export interface Services {
  db: Knex;
  sealer: Sealer;
  config: Config;
  auth: AuthSettings;
  /** Puts work on the job queue. */
  jobs: JobSender;
  /** Uploaded files (job photos and documents). */
  files: FileStorage;
  scanFile: FileScanner;
  /** Signs short-lived download links. */
  urlSigner: UrlSigner;
  /** Notifications: the channels' senders (e-mail, SMS, web push, Chatwoot) and the public VAPID key browsers subscribe with. */
  notifications: { senders: ChannelSenders; vapidPublicKey: string };
}

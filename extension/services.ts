// What route modules are built from: the database, the secret sealer and the settings they need.
import type { Knex } from 'knex';
import type { AuthSettings } from './auth/sessions.ts';
import type { Config } from './config.ts';
import type { JobSender } from './queue/names.ts';
import type { Sealer } from './security/crypto.ts';

export interface Services {
  db: Knex;
  sealer: Sealer;
  config: Config;
  auth: AuthSettings;
  /** Puts work on the job queue. */
  jobs: JobSender;
}

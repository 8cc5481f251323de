// The channel senders a process uses, built from its configuration: e-mail over SMTP (off without
// SMTP_URL), SMS through each account's Twilio, web push signed with the VAPID keys, and messages
// on the client's own Chatwoot conversation.
import type https from 'node:https';
import type { Knex } from 'knex';
import type { Config } from '../../config.ts';
import type { Sealer } from '../../security/crypto.ts';
import type { VapidKeys } from '../vapid.ts';
import { chatwootChannel } from './chatwoot.ts';
import { emailChannel } from './email.ts';
import { pushChannel } from './push.ts';
import { smsChannel } from './sms.ts';
import type { ChannelSenders } from './types.ts';

export interface Channels {
  senders: ChannelSenders;
  close(): void;
}

export function createChannels(options: { db: Knex; sealer: Sealer; config: Config; vapid: VapidKeys; pushAgent?: https.Agent }): Channels {
  const { db, sealer, config, vapid } = options;
  const email = emailChannel({ smtpUrl: config.SMTP_URL, from: config.ONELINK_EMAIL_FROM, db });
  return {
    senders: {
      email,
      sms: smsChannel({ db, sealer, twilioApiUrl: config.ONELINK_TWILIO_API_URL, publicUrl: config.PUBLIC_URL, timeoutMs: config.ONELINK_CHATWOOT_TIMEOUT_MS }),
      push: pushChannel({ db, vapid, agent: options.pushAgent }),
      chatwoot: chatwootChannel({ db, sealer, timeoutMs: config.ONELINK_CHATWOOT_TIMEOUT_MS }),
    },
    close: () => email.close(),
  };
}

// Files a client attaches to a message: received, checked and stored exactly as a vendor's are
// (vendor-messages/attachments.ts: at most three, the same types and sizes, 40 MB a message), kept
// under the client's thread, and shown back to the client through short-lived signed links of
// their own (a link names the client portal, so a vendor message's link never opens one here).
import { z } from 'zod';
import { read } from '../db/tenant.ts';
import type { Services } from '../services.ts';
import { attachmentLinkMinutes, isStored } from '../vendor-messages/attachments.ts';

export { dropReceived, maxMessageFiles, receiveMessageForm, removeAttachments, storeAttachments } from '../vendor-messages/attachments.ts';

const messageId = z.uuid();

/** The storage folder of a thread's files (under the account's). */
export const threadFolder = (threadId: string) => `client-threads/${threadId}`;

/** The link the client's portal shows an attachment of theirs by. */
export function clientAttachmentLink(services: Pick<Services, 'urlSigner'>, accountId: number, messageId: string, index: number) {
  // Rounded up to the next ten minutes: the same link for a while lets the phone keep the image it has.
  const step = 10 * 60_000;
  const expires = new Date(Math.ceil((Date.now() + attachmentLinkMinutes * 60_000) / step) * step);
  return `/api/v1/portal/client/message-attachments/content?token=${services.urlSigner.sign({ k: 'client_message', a: accountId, m: messageId, n: index }, expires)}`;
}

/** The bytes behind a signed link, or null when the link is bad, expired, not a client message's, or the file is gone. */
export async function openClientAttachment(services: Pick<Services, 'urlSigner' | 'db' | 'files'>, token: string) {
  const claims = services.urlSigner.verify(token);
  if (!claims || claims.k !== 'client_message' || typeof claims.a !== 'number' || typeof claims.m !== 'string' || !messageId.safeParse(claims.m).success || typeof claims.n !== 'number') return null;
  const row = await read({ db: services.db, accountId: claims.a }, (trx) =>
    trx('client_messages').where({ account_id: claims.a, id: claims.m, direction: 'from_client' }).first('attachments'),
  );
  const attachment = (row?.attachments as unknown[] | undefined)?.[claims.n as number];
  if (!isStored(attachment)) return null;
  try {
    return { stream: await services.files.open(attachment.storage_key), attachment };
  } catch {
    return null;
  }
}

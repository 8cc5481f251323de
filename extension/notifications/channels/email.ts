// The e-mail channel: one pooled SMTP transport (SMTP_URL) sends each delivery as plain text with a
// simple HTML alternative. The account's name (footer) and reply-to address come from the database.
//
// What the server answers decides the outcome (see types.ts): a 4xx reply, a dropped connection or a
// timeout is worth another try; a 5xx reply is the server's final word on that message. Nodemailer
// does not retry by itself, so every attempt is one SMTP transaction and the delivery loop owns the
// backoff. Message bodies are never logged; the X-Onelink-Delivery header ties a mail in someone's
// inbox (or a bounce) to its delivery row.
import type { Knex } from 'knex';
import nodemailer from 'nodemailer';
import type { NodemailerError, SMTPPoolSentMessageInfo } from 'nodemailer';
import { shortLived } from '../../../webhooks/cache.ts';
import { read } from '../../db/tenant.ts';
import { definitionOf, isEventName, type Audience, type EventName } from '../catalogue.ts';
import type { ChannelSender, OutgoingDelivery, SendResult } from './types.ts';

export const emailOffReason = 'E-mail is off: SMTP_URL is not set';

// Only for a first try on a laptop: a real sender domain is needed for mail to be accepted anywhere,
// so ONELINK_EMAIL_FROM should be set in production.
const defaultFrom = 'Onelink <notifications@localhost>';

/** The line above the title and the words on the button, per event (every catalogue event has one). */
const eventTemplates: Record<EventName, { intro: string; action: string }> = {
  'staff.job_created': { intro: 'A new job was created.', action: 'Open the job' },
  'staff.job_assigned_to_me': { intro: 'A job was put in your hands.', action: 'Open the job' },
  'staff.vendor_progress': { intro: 'News from the vendor on a job you follow.', action: 'Open the job' },
  'staff.sla_approaching': { intro: 'A job is close to its SLA.', action: 'Open the job' },
  'staff.sla_breached': { intro: 'A job has breached its SLA.', action: 'Open the job' },
  'staff.missed_call': { intro: 'A caller is waiting for a call back.', action: 'Open the call-back task' },
  'staff.task_due_soon': { intro: 'A task of yours is due within the hour.', action: 'Open the task' },
  'staff.task_overdue': { intro: 'A task of yours is overdue.', action: 'Open the task' },
  'staff.vendor_document_expiring': { intro: "A vendor's compliance document needs attention.", action: 'Open the vendor' },
  'staff.vendor_document_submitted': { intro: 'A vendor sent a compliance document to review.', action: 'Review the document' },
  'staff.offer_answered': { intro: 'A vendor answered a job offer, or let it lapse.', action: 'Open the job' },
  'staff.vendor_note': { intro: 'A vendor wrote a note to dispatch on a job.', action: 'Open the job' },
  'staff.daily_digest': { intro: 'What needs you today.', action: 'Open the dispatch board' },
  'vendor.job_assigned': { intro: 'You have a new job.', action: 'View the job' },
  'vendor.job_offered': { intro: 'You are offered a job. Please answer in time.', action: 'Answer the offer' },
  'vendor.job_changed': { intro: 'One of your jobs has changed.', action: 'View the job' },
  'vendor.job_withdrawn': { intro: 'A job is no longer yours.', action: 'View your jobs' },
  'vendor.job_given_to_technician': { intro: 'A job was given to one of your technicians.', action: 'View the job' },
  'vendor.job_taken_from_technician': { intro: 'A job was taken from one of your technicians.', action: 'View your jobs' },
  'vendor.document_expiring': { intro: 'One of your compliance documents needs attention.', action: 'Update the document' },
  'vendor.document_reviewed': { intro: 'Dispatch reviewed a compliance document you sent.', action: 'See your documents' },
  'client.request_received': { intro: 'We have your request.', action: 'Follow your request' },
  'client.visit_scheduled': { intro: 'Your visit is scheduled.', action: 'See the details' },
  'client.technician_on_the_way': { intro: 'Your technician is on the way.', action: 'See the details' },
  'client.job_completed': { intro: 'Your job is done.', action: 'See the details' },
  'client.document_shared': { intro: 'A document was shared with you.', action: 'View the document' },
};

const footers: Record<Audience, (account: string) => string> = {
  staff: (account) => `${account} · Onelink. Choose which e-mails you get in your notification settings.`,
  vendor: (account) => `${account} · sent through Onelink because you work on jobs for ${account}.`,
  client: (account) => `${account} · sent through Onelink about your request with ${account}.`,
};

/** Mails that are not catalogue events: a portal sign-in code (sent at once, not through the outbox). */
const otherMails: Record<string, { intro: string; action: string; footer: (account: string) => string }> = {
  'portal.sign_in': {
    intro: 'Here is your sign-in code.',
    action: 'Or sign in with this link',
    footer: (account) => `${account} · someone asked to sign in to ${account}'s portal with this address. If it was not you, ignore this e-mail.`,
  },
};

export interface RenderedEmail { subject: string; text: string; html: string }

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A link is only offered when it is plainly http(s): a stored message must not become a javascript: link. */
function safeUrl(url: string | null): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.toString() : null;
  } catch {
    return null;
  }
}

/** Paragraphs at blank lines, line breaks kept inside them. */
function paragraphsHtml(text: string): string {
  return text
    .split(/\r?\n\s*\r?\n/)
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => `<p style="margin:0 0 14px">${escapeHtml(p).replace(/\r?\n/g, '<br>')}</p>`)
    .join('\n');
}

/** The mail for one delivery: its event's template filled with the stored message. */
export function renderEmail(delivery: Pick<OutgoingDelivery, 'event' | 'message'>, accountName: string): RenderedEmail {
  const { message } = delivery;
  // A delivery stored under an event that has since left the catalogue still goes out, plainly.
  const known = isEventName(delivery.event) && Object.hasOwn(eventTemplates, delivery.event);
  const other = Object.hasOwn(otherMails, delivery.event) ? otherMails[delivery.event] : undefined;
  const template = known ? eventTemplates[delivery.event] : (other ?? { intro: '', action: 'Open' });
  const audience: Audience = known ? definitionOf(delivery.event).audience : other ? 'vendor' : 'staff';
  // Customer messages are the account's own template text, filled at fan-out.
  const body = (audience === 'client' && message.customerText?.trim() ? message.customerText : message.body).trim();
  // Header lines cannot hold line breaks; long subjects are cut rather than folded into nonsense.
  const oneLine = message.title.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  const subject = Array.from(oneLine).slice(0, 200).join('') || template.intro;
  const url = safeUrl(message.url);
  const footer = other ? other.footer(accountName) : footers[audience](accountName);

  const text = [template.intro, body, url ? `${template.action}: ${url}` : '', `-- \n${footer}`].filter(Boolean).join('\n\n') + '\n';

  const html = `<!doctype html>
<html>
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(subject)}</title></head>
<body style="margin:0;padding:24px;background:#f4f5f7;font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#1f2933">
<div style="max-width:560px;margin:0 auto;background:#ffffff;border-radius:8px;padding:24px">
${template.intro ? `<p style="margin:0 0 6px;font-size:13px;color:#616e7c">${escapeHtml(template.intro)}</p>\n` : ''}<h1 style="margin:0 0 16px;font-size:20px;line-height:1.3">${escapeHtml(subject)}</h1>
<div style="font-size:15px;line-height:1.5">
${paragraphsHtml(body)}
</div>
${url ? `<p style="margin:20px 0 0"><a href="${escapeHtml(url)}" style="display:inline-block;background:#1f6feb;color:#ffffff;text-decoration:none;padding:10px 18px;border-radius:6px;font-weight:600">${escapeHtml(template.action)}</a></p>\n` : ''}</div>
<p style="max-width:560px;margin:12px auto 0;font-size:12px;color:#7b8794">${escapeHtml(footer)}</p>
</body>
</html>
`;
  return { subject, text, html };
}

interface AccountMailSettings { name: string; replyTo: string | null }

/** What a refused or failed send means for the delivery. */
export function outcomeOfError(err: unknown): SendResult {
  const e = (err ?? {}) as NodemailerError;
  const code = typeof e.responseCode === 'number' ? e.responseCode : null;
  // The server's own words (code and text) say why; never the message itself.
  const said = (e.response ?? e.message ?? String(err)).replace(/\s+/g, ' ').trim().slice(0, 300);
  if (code !== null) {
    // 503 (bad sequence of commands) is a protocol hiccup, not a verdict on the message.
    if (code >= 500 && code <= 599 && code !== 503) return { outcome: 'failed', reason: `SMTP server refused the message: ${said}` };
    return { outcome: 'retry', reason: `SMTP server deferred the message: ${said}` };
  }
  // No reply code: the message never got a verdict (connection refused or dropped, DNS, TLS,
  // timeouts, credentials, pool limits). Sending it again later is the right move.
  return { outcome: 'retry', reason: `Could not talk to the SMTP server (${e.code ?? 'error'}): ${said}` };
}

const looksLikeAddress = (s: string) => /^[^\s@<>]+@[^\s@<>]+$/.test(s);

export function emailChannel(options: { smtpUrl: string | undefined; from: string | undefined; db: Knex }): ChannelSender & { close(): void } {
  const { smtpUrl, db } = options;
  const from = options.from ?? defaultFrom;
  // Query parameters of SMTP_URL (e.g. ?ignoreTLS=true, ?tls.rejectUnauthorized=false) win over these.
  const transport = smtpUrl
    ? nodemailer.createTransport({
        url: smtpUrl,
        pool: true,
        maxConnections: 3,
        connectionTimeout: 15_000,
        greetingTimeout: 15_000,
        socketTimeout: 60_000,
        logger: false,
      })
    : null;

  // The footer's name and the reply-to change rarely; a few seconds' staleness is fine.
  const settingsOf = shortLived(
    (accountId: number): Promise<AccountMailSettings> =>
      read({ db, accountId }, async (trx) => {
        const account = (await trx('accounts').where({ account_id: accountId }).first('name')) as { name: string } | undefined;
        const settings = (await trx('notification_settings').where({ account_id: accountId }).first('email_reply_to')) as { email_reply_to: string | null } | undefined;
        return { name: account?.name ?? 'Onelink', replyTo: settings?.email_reply_to ?? null };
      }),
    { ttlMs: 30_000, maxEntries: 10_000 },
  );

  return {
    async unavailable() {
      return transport ? null : emailOffReason;
    },

    async send(delivery) {
      if (!transport) return { outcome: 'failed', reason: emailOffReason };
      const address = delivery.address?.trim();
      if (!address) return { outcome: 'failed', reason: 'No e-mail address for this recipient' };
      if (!looksLikeAddress(address)) return { outcome: 'failed', reason: 'The recipient’s e-mail address is not valid' };

      let account: AccountMailSettings;
      try {
        account = await settingsOf(delivery.accountId);
      } catch (err) {
        return { outcome: 'retry', reason: `Could not read the account’s e-mail settings: ${(err as Error).message}` };
      }
      const mail = renderEmail(delivery, account.name);

      let info: SMTPPoolSentMessageInfo;
      try {
        info = await transport.sendMail({
          from,
          to: delivery.recipient.name ? { name: delivery.recipient.name, address } : address,
          replyTo: account.replyTo ?? undefined,
          subject: mail.subject,
          text: mail.text,
          html: mail.html,
          headers: {
            'X-Onelink-Delivery': delivery.id,
            // Asks out-of-office responders not to answer (RFC 3834).
            'Auto-Submitted': 'auto-generated',
          },
        });
      } catch (err) {
        return outcomeOfError(err);
      }
      // Refused recipients can come back inside a "successful" send; with one recipient, all refused is a refusal.
      if (info.rejected.length > 0 && info.accepted.length === 0) {
        const refusal = info.rejectedErrors?.[0];
        return refusal ? outcomeOfError(refusal) : { outcome: 'failed', reason: `SMTP server refused the recipient: ${info.response}` };
      }
      return { outcome: 'sent', providerId: info.messageId };
    },

    close() {
      transport?.close();
    },
  };
}

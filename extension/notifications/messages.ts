// What each event says (English; customer texts come from the account's templates, templates.ts).
// Written once per event and recipient at fan-out and stored with the deliveries, so a retry or a
// resend sends the same words.
import { jobReference } from '../modules/jobs/rules.ts';
import { displayNumber } from '../phones/e164.ts';
import type { EventName, RaisedEvent, Recipient } from './catalogue.ts';
import type { StoredMessage } from './channels/types.ts';
import type { JobFacts, Subject } from './recipients.ts';
import type { TemplateValues } from './templates.ts';

export interface MessageContext {
  event: RaisedEvent;
  subject: Subject;
  recipient: Recipient;
  publicUrl: string;
  timeZone: string;
  locale: string;
  accountName: string;
  /** The daily digest's figures (staff.daily_digest only). */
  digest?: DigestFigures;
}

export interface DigestFigures {
  missedCallsWithoutCallback: number;
  overdueJobs: number;
  breachedSlas: number;
  expiringDocuments: number;
}

const reference = (job: Pick<JobFacts, 'number'>) => jobReference(job.number);
const sources: Record<string, string> = { call: 'a call', sms: 'an SMS', chat: 'a chat', manual: 'the dashboard', pipeline: 'a deal stage (automation)', portal: 'the client portal' };

// Formatters are costly to build and a fan-out formats thousands of dates: one per locale, zone and form.
const formatters = new Map<string, Intl.DateTimeFormat>();

function when(date: Date | string | null | undefined, timeZone: string, locale: string, withDate = true): string {
  if (!date) return '';
  const key = `${locale} ${timeZone} ${withDate}`;
  let format = formatters.get(key);
  if (!format) {
    const options: Intl.DateTimeFormatOptions = withDate
      ? { timeZone, weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' }
      : { timeZone, hour: '2-digit', minute: '2-digit' };
    format = new Intl.DateTimeFormat(locale.replace('_', '-'), options);
    if (formatters.size > 500) formatters.clear();
    formatters.set(key, format);
  }
  return format.format(new Date(date));
}

/** "Tue 3 Dec, 09:00–11:00": a visit window in the recipient's time zone. */
export function windowText(job: Pick<JobFacts, 'window_starts_at' | 'window_ends_at'>, timeZone: string, locale: string): string {
  if (!job.window_starts_at) return '';
  const start = when(job.window_starts_at, timeZone, locale);
  return job.window_ends_at ? `${start}–${when(job.window_ends_at, timeZone, locale, false)}` : start;
}

const staffJobUrl = (ctx: MessageContext, jobId: string) => `${ctx.publicUrl}/apps/dispatch/?job=${encodeURIComponent(jobId)}`;
const jobLink = (jobId: string) => ({ resource_type: 'job', resource_id: jobId });

const firstName = (name: string | null | undefined) => (name ?? '').trim().split(/\s+/)[0] ?? '';

/** The values a customer template is filled with. */
export function templateValues(ctx: MessageContext): TemplateValues {
  const job = ctx.subject.job;
  const after = (ctx.event.data as { after?: Record<string, unknown> | null }).after ?? {};
  const eta = typeof after.eta === 'string' ? when(after.eta, ctx.timeZone, ctx.locale, false) : '';
  return {
    job_reference: job ? reference(job) : '',
    window: job ? windowText(job, ctx.timeZone, ctx.locale) : '',
    vendor_first_name: firstName(job?.vendor_name) || 'Your technician',
    eta,
    portal_link: job ? `${ctx.publicUrl}/portal/client/jobs/${job.id}` : `${ctx.publicUrl}/portal/client/`,
    account_name: ctx.accountName,
    customer_name: firstName(ctx.recipient.name) || 'there',
  };
}

type Say = (ctx: MessageContext) => Omit<StoredMessage, 'customerText'> | null;

const jobSays =
  (title: (job: JobFacts, ctx: MessageContext) => string, body: (job: JobFacts, ctx: MessageContext) => string, audience: 'staff' | 'vendor' | 'client' = 'staff'): Say =>
  (ctx) => {
    const job = ctx.subject.job;
    if (!job) return null;
    const url = audience === 'staff' ? staffJobUrl(ctx, job.id) : audience === 'vendor' ? `${ctx.publicUrl}/portal/vendor/jobs/${job.id}` : `${ctx.publicUrl}/portal/client/jobs/${job.id}`;
    return { title: title(job, ctx), body: body(job, ctx), url, link: jobLink(job.id) };
  };

const documentSays = (audience: 'staff' | 'vendor'): Say => (ctx) => {
  const doc = ctx.subject.document;
  if (!doc) return null;
  const expired = (ctx.event.data as { action?: string }).action === 'vendor.document_expired';
  const whose = audience === 'staff' ? `${doc.vendor_name}'s ${doc.kind}` : `Your ${doc.kind}`;
  return {
    title: expired ? `${whose} has expired` : `${whose} expires on ${doc.expires_on}`,
    body: expired
      ? `It expired on ${doc.expires_on}. ${audience === 'staff' ? 'The vendor is not compliant for jobs that need it until a new one is added.' : 'Please send us the renewed document.'}`
      : `${audience === 'staff' ? 'Ask the vendor for the renewed document.' : 'Please send us the renewed document before then.'}`,
    url: audience === 'staff' ? `${ctx.publicUrl}/apps/dispatch/?vendor=${encodeURIComponent(doc.vendor_id)}` : `${ctx.publicUrl}/portal/vendor/business`,
    link: { resource_type: 'vendor', resource_id: doc.vendor_id },
  };
};

// A document sent for review, and the review's outcome (a rejection says why).
const documentReview = (audience: 'staff' | 'vendor'): Say => (ctx) => {
  const doc = ctx.subject.document;
  if (!doc) return null;
  const facts = ((ctx.event.data as { after?: Record<string, unknown> | null }).after ?? {}) as { status?: string; reason?: string };
  if (audience === 'staff') {
    return {
      title: `${doc.vendor_name} sent their ${doc.kind} for review`,
      body: `Expires on ${doc.expires_on}. It counts toward the vendor's compliance once approved.`,
      url: `${ctx.publicUrl}/apps/dispatch/?vendor=${encodeURIComponent(doc.vendor_id)}`,
      link: { resource_type: 'vendor', resource_id: doc.vendor_id },
    };
  }
  const rejected = facts.status === 'rejected';
  return {
    title: rejected ? `Your ${doc.kind} was not accepted` : `Your ${doc.kind} was approved`,
    body: rejected ? `Reason: ${facts.reason ?? 'not given'}. Please send a corrected document.` : `It counts toward your compliance until it expires on ${doc.expires_on}.`,
    url: `${ctx.publicUrl}/portal/vendor/business`,
    link: { resource_type: 'vendor', resource_id: doc.vendor_id },
  };
};

// Said of the job, not of the vendor: a dispatcher may move it for them (the vendor phoned in).
const progress: Record<string, (vendor: string) => string> = {
  'job.en_route': (vendor) => `${vendor} is on the way`,
  'job.in_progress': () => 'work started',
  'job.pending_review': () => 'work finished, waiting for review',
  'job.completed': () => 'completed',
};

/** A vendor's note as the notification quotes it: the start of it, the rest is on the job. */
const noteText = (ctx: MessageContext) => {
  const text = String(((ctx.event.data as { after?: { text?: unknown } | null }).after ?? {}).text ?? '');
  return text.length > 280 ? `${text.slice(0, 279)}…` : text;
};

const offerFacts = (ctx: MessageContext) => ((ctx.event.data as { after?: Record<string, unknown> | null }).after ?? {}) as {
  offer_id?: string;
  vendor_name?: string;
  answer_by?: string;
  reason?: string;
  next_vendor_id?: string | null;
  next_vendor_name?: string | null;
};

// An offered job is not the vendor's yet: its summary, window and priority, never the client's address.
// The answer-by time is a clock time; the day is added only for an offer open longer than half a day.
const offerToVendor: Say = (ctx) => {
  const job = ctx.subject.job;
  const offer = offerFacts(ctx);
  if (!job || !offer.offer_id) return null;
  return {
    title: `Job offer ${reference(job)}: ${job.summary}`,
    body: [windowText(job, ctx.timeZone, ctx.locale), `Priority: ${job.priority}`, offer.answer_by ? `Answer by ${when(offer.answer_by, ctx.timeZone, ctx.locale, new Date(offer.answer_by).getTime() - new Date(ctx.event.occurred_at).getTime() > 12 * 3600_000)}` : ''].filter(Boolean).join(' · '),
    url: `${ctx.publicUrl}/portal/vendor/offers/${encodeURIComponent(offer.offer_id)}`,
    link: { resource_type: 'job_offer', resource_id: offer.offer_id },
  };
};

/** The technician an event names (from the audit entry), or `fallback`. */
const technicianNamed = (ctx: MessageContext, side: 'before' | 'after', fallback = 'a technician') => {
  const record = (ctx.event.data as Record<string, Record<string, unknown> | null | undefined>)[side] ?? {};
  return typeof record.technician_name === 'string' && record.technician_name ? record.technician_name : fallback;
};

const offerAnswers: Record<string, string> = { 'job.offer_accepted': 'accepted the offer of', 'job.offer_declined': 'declined the offer of', 'job.offer_lapsed': 'did not answer in time for' };

/** What happens next: the job went on to the next vendor, or nobody suggested is left (said only when the account offers on by itself). */
function nextOfferText(offer: ReturnType<typeof offerFacts>): string {
  if (offer.next_vendor_id === undefined) return '';
  return offer.next_vendor_name ? `Offered next to ${offer.next_vendor_name}.` : 'No other suggested vendor is left: assign it by hand.';
}

const says: Record<EventName, Say> = {
  'staff.job_created': jobSays(
    (job) => `New job ${reference(job)}: ${job.summary}`,
    (job) => `From ${sources[job.source] ?? job.source}${job.contact_name ? ` for ${job.contact_name}` : ''}. Priority: ${job.priority}.`,
  ),
  'staff.job_assigned_to_me': jobSays(
    (job) => `Job ${reference(job)} is yours`,
    (job) => `${job.summary}${job.contact_name ? ` (${job.contact_name})` : ''}. Status: ${job.status.replace('_', ' ')}.`,
  ),
  'staff.vendor_progress': jobSays(
    (job, ctx) => `Job ${reference(job)}: ${(progress[(ctx.event.data as { action: string }).action] ?? (() => 'updated'))(job.vendor_name ?? 'the vendor')}`,
    (job, ctx) => {
      const eta = templateValues(ctx).eta;
      return `${job.summary}${eta ? `. Expected arrival: ${eta}` : ''}.`;
    },
  ),
  'staff.sla_approaching': jobSays(
    (job) => `Job ${reference(job)} is close to its SLA`,
    (job, ctx) => `${job.summary}. Due ${when(job.sla_due_at, ctx.timeZone, ctx.locale)}; status: ${job.status.replace('_', ' ')}.`,
  ),
  'staff.sla_breached': jobSays(
    (job) => `Job ${reference(job)} breached its SLA`,
    (job, ctx) => `${job.summary}. It was due ${when(job.sla_due_at, ctx.timeZone, ctx.locale)}; status: ${job.status.replace('_', ' ')}.`,
  ),
  'staff.missed_call': (ctx) => {
    const call = ctx.subject.call;
    if (!call) return null;
    const who = call.contact_name ?? (call.from_e164 ? displayNumber(call.from_e164) : 'a withheld number');
    const what = call.status === 'voicemail' ? 'Voicemail from' : call.status === 'busy' ? 'Busy line: call from' : 'Missed call from';
    return {
      title: `${what} ${who}`,
      body: 'A call-back task is waiting.',
      url: ctx.subject.job ? staffJobUrl(ctx, ctx.subject.job.id) : null,
      link: { resource_type: 'call', resource_id: call.id },
    };
  },
  'staff.task_due_soon': (ctx) =>
    ctx.subject.task ? { title: `Due soon: ${ctx.subject.task.title}`, body: `Due ${when(ctx.subject.task.due_at, ctx.timeZone, ctx.locale)}.`, url: ctx.subject.job ? staffJobUrl(ctx, ctx.subject.job.id) : null, link: { resource_type: 'task', resource_id: ctx.subject.task.id } } : null,
  'staff.task_overdue': (ctx) =>
    ctx.subject.task ? { title: `Overdue: ${ctx.subject.task.title}`, body: `It was due ${when(ctx.subject.task.due_at, ctx.timeZone, ctx.locale)}.`, url: ctx.subject.job ? staffJobUrl(ctx, ctx.subject.job.id) : null, link: { resource_type: 'task', resource_id: ctx.subject.task.id } } : null,
  'staff.vendor_document_expiring': documentSays('staff'),
  'staff.vendor_document_submitted': documentReview('staff'),
  'staff.offer_answered': jobSays(
    (job, ctx) => `${offerFacts(ctx).vendor_name ?? 'The vendor'} ${offerAnswers[(ctx.event.data as { action: string }).action] ?? 'answered the offer of'} ${reference(job)}`,
    (job, ctx) => {
      const offer = offerFacts(ctx);
      return [`${job.summary}.`, offer.reason ? `Reason: ${offer.reason}.` : '', nextOfferText(offer)].filter(Boolean).join(' ');
    },
  ),
  'staff.vendor_note': jobSays(
    (job) => `Note from ${job.vendor_name ?? 'the vendor'} on job ${reference(job)}`,
    (job, ctx) => `${job.summary}. “${noteText(ctx)}”`,
  ),
  'staff.daily_digest': (ctx) => {
    const d = ctx.digest;
    if (!d) return null;
    const lines = [
      `${d.missedCallsWithoutCallback} missed call${d.missedCallsWithoutCallback === 1 ? '' : 's'} still waiting for a call back`,
      `${d.overdueJobs} open job${d.overdueJobs === 1 ? '' : 's'} past their visit window`,
      `${d.breachedSlas} open job${d.breachedSlas === 1 ? '' : 's'} past their SLA`,
      `${d.expiringDocuments} vendor document${d.expiringDocuments === 1 ? '' : 's'} expiring within 30 days or expired`,
    ];
    return { title: `Your morning summary for ${ctx.accountName}`, body: lines.join('\n'), url: `${ctx.publicUrl}/apps/dispatch/`, link: null };
  },
  'vendor.job_assigned': jobSays(
    (job) => `New job ${reference(job)}: ${job.summary}`,
    (job, ctx) => [job.address, windowText(job, ctx.timeZone, ctx.locale), `Priority: ${job.priority}`].filter(Boolean).join(' · '),
    'vendor',
  ),
  'vendor.job_offered': offerToVendor,
  'vendor.job_changed': jobSays(
    (job) => `Job ${reference(job)} changed`,
    (job, ctx) => [job.summary, job.address, windowText(job, ctx.timeZone, ctx.locale)].filter(Boolean).join(' · '),
    'vendor',
  ),
  'vendor.job_withdrawn': jobSays(
    (job, ctx) => ((ctx.event.data as { action: string }).action === 'job.canceled' ? `Job ${reference(job)} was canceled` : `Job ${reference(job)} is no longer yours`),
    (job) => `${job.summary}${job.cancel_reason ? `. Reason: ${job.cancel_reason}` : ''}. No need to go.`,
    'vendor',
  ),
  'vendor.job_given_to_technician': jobSays(
    (job, ctx) => `Job ${reference(job)} given to ${technicianNamed(ctx, 'after')}: ${job.summary}`,
    (job, ctx) => [job.address, windowText(job, ctx.timeZone, ctx.locale), `Priority: ${job.priority}`].filter(Boolean).join(' · '),
    'vendor',
  ),
  'vendor.job_taken_from_technician': (ctx) => {
    const job = ctx.subject.job;
    if (!job) return null;
    // Not the job's page: the technician it was taken from can no longer open it.
    return {
      title: `Job ${reference(job)} is no longer with ${technicianNamed(ctx, 'before')}`,
      body: `${job.summary}. ${technicianNamed(ctx, 'after', '') ? `Now with ${technicianNamed(ctx, 'after')}.` : 'Back with the vendor’s owner.'}`,
      url: `${ctx.publicUrl}/portal/vendor/`,
      link: jobLink(job.id),
    };
  },
  'vendor.document_expiring': documentSays('vendor'),
  'vendor.document_reviewed': documentReview('vendor'),
  'client.request_received': jobSays((job) => `We received your request ${reference(job)}`, (job) => job.summary, 'client'),
  'client.visit_scheduled': jobSays((job) => `Visit scheduled for ${reference(job)}`, (job, ctx) => windowText(job, ctx.timeZone, ctx.locale), 'client'),
  'client.technician_on_the_way': jobSays((job) => `Your technician is on the way (${reference(job)})`, (_job, ctx) => (templateValues(ctx).eta ? `Expected arrival: ${templateValues(ctx).eta}` : 'They will be with you soon.'), 'client'),
  'client.job_completed': jobSays((job) => `Job ${reference(job)} is complete`, (job) => job.summary, 'client'),
  'client.document_shared': jobSays((job) => `A document for ${reference(job)} was shared with you`, (job) => job.summary, 'client'),
};

/** The message of `event` for one recipient; null when what it was about is gone. */
export function messageFor(ctx: MessageContext): Omit<StoredMessage, 'customerText'> | null {
  return says[ctx.event.event](ctx);
}

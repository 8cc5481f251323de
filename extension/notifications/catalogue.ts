// What Onelink notifies about: each event names the audit actions that raise it, who hears it, on
// which channels by default, and what it says. An event is raised in the transaction of the change
// (the unit of work sees every audit entry; see raise.ts), so adding one is an entry here.
//
// Recipients are of three kinds: staff ('user', a users.id), vendors ('vendor', a vendors.id: the
// vendor's own contact details and portal users) and clients ('contact', a Chatwoot contact id).
import type { Knex } from 'knex';
import type { AuditEntry } from '../audit/writer.ts';

export const deliveryChannels = ['email', 'sms', 'push', 'chatwoot'] as const;
export type DeliveryChannel = (typeof deliveryChannels)[number];
export type Channel = 'in_app' | DeliveryChannel;
export const channels: readonly Channel[] = ['in_app', ...deliveryChannels];

export type Audience = 'staff' | 'vendor' | 'client';
export type RecipientKind = 'user' | 'vendor' | 'contact';
export const recipientKindOf: Record<Audience, RecipientKind> = { staff: 'user', vendor: 'vendor', client: 'contact' };

export interface Recipient { kind: RecipientKind; id: string; name: string | null }

/** An event as stored in notification_events and handed to the fan-out. */
export interface RaisedEvent {
  id: string;
  event: EventName;
  resource_type: string;
  resource_id: string;
  data: Record<string, unknown>;
  actor_type: string | null;
  actor_id: string | null;
  occurred_at: Date;
}

/** What a recipient is told: the bell's title and text, and what the item opens. */
export interface Message {
  title: string;
  body: string;
  link: { resource_type: string; resource_id: string } | null;
  /** Customer messages: the template variables (see templates.ts). */
  variables?: Record<string, string>;
}

/**
 * Which channels an audience uses. `chain`: tried in order, the next one only when the one before
 * could not reach the recipient (no address, opted out, refused); `parallel`: each on its own.
 * In-app is kept for every recipient (the bell for staff, the portals' list for vendors and clients).
 */
export const audienceChannels: Record<Audience, { chain: DeliveryChannel[]; parallel: DeliveryChannel[] }> = {
  staff: { chain: [], parallel: ['email'] },
  vendor: { chain: ['push', 'sms'], parallel: ['email'] },
  client: { chain: ['chatwoot', 'sms', 'email'], parallel: ['push'] },
};

interface Trigger {
  /** The audit action that raises the event. */
  action: string;
  /** Raise only when this holds for the audit entry. */
  when?: (entry: AuditEntry) => boolean;
}

/**
 * Who hears an event (resolved at fan-out, see recipients.ts): the account's dispatchers and
 * admins; the job's owner (else the dispatchers); the new owner; the task's assignee; the call-back
 * task's assignee (else the dispatchers); the vendor holding the job, the vendor it was taken from,
 * the vendor whose document it is; the vendor a job is offered to; the technician a job was given
 * to and the one it was taken from (through their vendor: see recipients.ts); the job's client; the
 * person a digest is for.
 */
export type RecipientRule =
  | 'dispatchers'
  | 'job_owner_or_dispatchers'
  | 'new_job_owner'
  | 'task_assignee'
  | 'callback_assignee_or_dispatchers'
  | 'job_vendor'
  | 'assigned_vendor'
  | 'withdrawn_vendor'
  | 'document_vendor'
  | 'offered_vendor'
  | 'given_technician'
  | 'former_technician'
  | 'job_client'
  | 'digest_owner';

export interface EventDefinition {
  audience: Audience;
  to: RecipientRule;
  raisedBy: Trigger[];
  /** Channels on unless the account or the recipient switched them off. */
  defaults: Partial<Record<DeliveryChannel, boolean>>;
  /** Urgent events may break through quiet hours (the account chooses which; these by default). */
  urgent?: boolean;
  /** Escalation: when the first channel of the chain is push, the next one goes out this many minutes later unless the notification was read. */
  escalateAfterMinutes?: number;
  /** A sentence for the preferences screens. */
  describe: string;
}

const after = (e: AuditEntry, key: string) => (e.after ?? {})[key];
const before = (e: AuditEntry, key: string) => (e.before ?? {})[key];
const changed = (e: AuditEntry, key: string) => Boolean(e.after && key in e.after) && JSON.stringify(after(e, key)) !== JSON.stringify(before(e, key));

/** Job fields a vendor works from: a change to any of them is news to the vendor holding the job. */
const vendorFacingJobFields = ['summary', 'address', 'postal_code', 'window_starts_at', 'window_ends_at', 'priority', 'service_category', 'sla_due_at'];

export const catalogue = {
  // Staff
  'staff.job_created': {
    to: 'dispatchers',
    audience: 'staff',
    raisedBy: [{ action: 'job.created' }],
    defaults: {},
    describe: 'A job was created (from a call, a chat, a portal, automation or by hand)',
  },
  'staff.job_assigned_to_me': {
    to: 'new_job_owner',
    audience: 'staff',
    raisedBy: [{ action: 'job.created', when: (e) => Boolean(after(e, 'owner_id')) }, { action: 'job.updated', when: (e) => changed(e, 'owner_id') && Boolean(after(e, 'owner_id')) }],
    defaults: { email: true },
    describe: 'A job was put in my hands',
  },
  'staff.vendor_progress': {
    to: 'job_owner_or_dispatchers',
    audience: 'staff',
    raisedBy: [{ action: 'job.en_route' }, { action: 'job.in_progress' }, { action: 'job.pending_review' }, { action: 'job.completed' }],
    defaults: {},
    describe: 'The vendor is on the way, started or finished a job I follow',
  },
  'staff.sla_approaching': {
    to: 'job_owner_or_dispatchers',
    audience: 'staff',
    raisedBy: [{ action: 'job.sla_approaching' }],
    defaults: {},
    describe: 'A job is close to its SLA',
  },
  'staff.sla_breached': {
    to: 'job_owner_or_dispatchers',
    audience: 'staff',
    raisedBy: [{ action: 'job.sla_breached' }],
    defaults: { email: true },
    urgent: true,
    describe: 'A job breached its SLA',
  },
  'staff.missed_call': {
    to: 'callback_assignee_or_dispatchers',
    audience: 'staff',
    raisedBy: [{ action: 'call.followed_up', when: (e) => Boolean(after(e, 'callback_task_id')) }],
    defaults: { email: true },
    describe: 'A missed call or a voicemail is waiting for a call back',
  },
  'staff.task_due_soon': {
    to: 'task_assignee',
    audience: 'staff',
    raisedBy: [{ action: 'task.due_soon' }],
    defaults: {},
    describe: 'A task of mine is due within the hour',
  },
  'staff.task_overdue': {
    to: 'task_assignee',
    audience: 'staff',
    raisedBy: [{ action: 'task.overdue' }],
    defaults: { email: true },
    describe: 'A task of mine is overdue',
  },
  'staff.vendor_document_expiring': {
    to: 'dispatchers',
    audience: 'staff',
    raisedBy: [{ action: 'vendor.document_expiring' }, { action: 'vendor.document_expired' }],
    defaults: {},
    describe: "A vendor's compliance document expires in 30 or 7 days, or has expired",
  },
  'staff.vendor_document_submitted': {
    to: 'dispatchers',
    audience: 'staff',
    raisedBy: [{ action: 'vendor.document_submitted' }],
    defaults: {},
    describe: 'A vendor sent a compliance document to review',
  },
  'staff.offer_answered': {
    to: 'job_owner_or_dispatchers',
    audience: 'staff',
    raisedBy: [{ action: 'job.offer_accepted' }, { action: 'job.offer_declined' }, { action: 'job.offer_lapsed' }],
    defaults: {},
    describe: 'A vendor accepted or declined a job offer, or let it lapse (and whether it went on to the next vendor)',
  },
  'staff.vendor_note': {
    to: 'job_owner_or_dispatchers',
    audience: 'staff',
    raisedBy: [{ action: 'job.vendor_note_added' }],
    defaults: {},
    describe: 'The vendor wrote a note to dispatch on a job I follow',
  },
  'staff.daily_digest': {
    to: 'digest_owner',
    audience: 'staff',
    raisedBy: [], // raised by the digest sweep (digest.ts), once per person and local day
    defaults: { email: true },
    describe: 'Each morning: missed calls without a call back, overdue jobs, breached SLAs, expiring documents',
  },
  // Vendors
  'vendor.job_assigned': {
    to: 'assigned_vendor',
    audience: 'vendor',
    raisedBy: [{ action: 'job.assigned' }, { action: 'job.reassigned' }],
    defaults: { push: true, sms: true },
    urgent: true,
    escalateAfterMinutes: 10,
    describe: 'A job was given to the vendor',
  },
  'vendor.job_offered': {
    to: 'offered_vendor',
    audience: 'vendor',
    raisedBy: [{ action: 'job.offered' }],
    defaults: { push: true, sms: true },
    urgent: true,
    // An offer waits minutes, not hours: the text follows the push soon when it is not read.
    escalateAfterMinutes: 5,
    describe: 'A job was offered to the vendor, to accept or decline by a time',
  },
  'vendor.job_changed': {
    to: 'job_vendor',
    audience: 'vendor',
    raisedBy: [{ action: 'job.updated', when: (e) => Boolean(after(e, 'vendor_id') ?? before(e, 'vendor_id')) && vendorFacingJobFields.some((k) => changed(e, k)) }],
    defaults: { push: true },
    describe: "The vendor's job changed (time window, address, priority…)",
  },
  'vendor.job_withdrawn': {
    to: 'withdrawn_vendor',
    audience: 'vendor',
    raisedBy: [
      { action: 'job.canceled' },
      { action: 'job.unassigned' },
      { action: 'job.reassigned', when: (e) => Boolean(before(e, 'vendor_id')) },
      { action: 'job.triaged', when: (e) => Boolean(before(e, 'vendor_id')) }, // back to triage: the vendor let go
    ],
    defaults: { push: true, sms: true },
    urgent: true,
    describe: "The vendor's job was canceled or given to someone else",
  },
  // A vendor's technician given a job, or losing it to another (or back to the owner). Push only:
  // the vendor's phone and e-mail are the vendor's, not the technician's.
  'vendor.job_given_to_technician': {
    to: 'given_technician',
    audience: 'vendor',
    raisedBy: [{ action: 'job.technician_set', when: (e) => Boolean(after(e, 'technician_id')) }],
    defaults: { push: true },
    describe: 'A job was given to one of the vendor’s technicians',
  },
  'vendor.job_taken_from_technician': {
    to: 'former_technician',
    audience: 'vendor',
    raisedBy: [{ action: 'job.technician_set', when: (e) => Boolean(before(e, 'technician_id')) }],
    defaults: { push: true },
    describe: 'A job was taken from one of the vendor’s technicians',
  },
  'vendor.document_expiring': {
    to: 'document_vendor',
    audience: 'vendor',
    raisedBy: [{ action: 'vendor.document_expiring' }, { action: 'vendor.document_expired' }],
    defaults: { email: true, push: true },
    describe: "The vendor's compliance document expires in 30 or 7 days, or has expired",
  },
  'vendor.document_reviewed': {
    to: 'document_vendor',
    audience: 'vendor',
    raisedBy: [{ action: 'vendor.document_approved' }, { action: 'vendor.document_rejected' }],
    defaults: { email: true, push: true },
    describe: "The vendor's compliance document was approved, or rejected with a reason",
  },
  // Clients (customer-facing: off until the account switches each on)
  'client.request_received': {
    to: 'job_client',
    audience: 'client',
    raisedBy: [{ action: 'job.created', when: (e) => Boolean(after(e, 'chatwoot_contact_id')) }],
    defaults: { chatwoot: true, sms: true, email: true, push: true },
    describe: 'We received the request (a job was created for the client)',
  },
  'client.visit_scheduled': {
    to: 'job_client',
    audience: 'client',
    raisedBy: [{ action: 'job.updated', when: (e) => changed(e, 'window_starts_at') && Boolean(after(e, 'window_starts_at')) && Boolean(after(e, 'chatwoot_contact_id') ?? before(e, 'chatwoot_contact_id')) }],
    defaults: { chatwoot: true, sms: true, email: true, push: true },
    describe: 'A visit was scheduled (or moved)',
  },
  'client.technician_on_the_way': {
    to: 'job_client',
    audience: 'client',
    raisedBy: [{ action: 'job.en_route' }],
    defaults: { chatwoot: true, sms: true, email: true, push: true },
    describe: 'The technician is on the way (with the ETA when given)',
  },
  'client.job_completed': {
    to: 'job_client',
    audience: 'client',
    raisedBy: [{ action: 'job.completed' }],
    defaults: { chatwoot: true, sms: true, email: true, push: true },
    describe: 'The job was completed',
  },
  'client.document_shared': {
    to: 'job_client',
    audience: 'client',
    raisedBy: [
      { action: 'job.artifact_added', when: (e) => after(e, 'visibility') === 'client_visible' },
      { action: 'job.artifact_visibility_changed', when: (e) => after(e, 'visibility') === 'client_visible' },
    ],
    defaults: { chatwoot: true, email: true, push: true },
    describe: 'A photo or document of the job was shared with the client',
  },
} satisfies Record<string, EventDefinition>;

export type EventName = keyof typeof catalogue;
export const eventNames = Object.keys(catalogue) as EventName[];
export const definitionOf = (event: EventName): EventDefinition => catalogue[event];
export const isEventName = (name: string): name is EventName => Object.hasOwn(catalogue, name);

/** Audit action → the events it may raise (built once: the unit of work looks actions up here). */
export const eventsByAction: ReadonlyMap<string, Array<{ event: EventName; when?: (entry: AuditEntry) => boolean }>> = (() => {
  const map = new Map<string, Array<{ event: EventName; when?: (entry: AuditEntry) => boolean }>>();
  for (const event of eventNames) {
    for (const trigger of definitionOf(event).raisedBy) {
      const list = map.get(trigger.action) ?? [];
      list.push({ event, when: trigger.when });
      map.set(trigger.action, list);
    }
  }
  return map;
})();

export type Trx = Knex.Transaction;

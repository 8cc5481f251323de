// The fan-out's reading: the facts an event is about (its job, task, call or vendor document, read
// once per event), who hears it (the catalogue's recipient rule), and how each recipient is reached
// (e-mail, phone, the Chatwoot conversation for a client).
import type { Knex } from 'knex';
import type { RaisedEvent, Recipient, RecipientRule } from './catalogue.ts';

export interface JobFacts {
  id: string;
  number: number;
  summary: string;
  status: string;
  priority: string;
  source: string;
  address: string | null;
  window_starts_at: Date | null;
  window_ends_at: Date | null;
  sla_due_at: Date | null;
  vendor_id: string | null;
  vendor_name: string | null;
  owner_id: string | null;
  chatwoot_contact_id: number | null;
  contact_name: string | null;
  cancel_reason: string | null;
}

export interface Subject {
  job?: JobFacts;
  task?: { id: string; title: string; due_at: Date | null; assignee_id: string | null; job_id: string | null; chatwoot_conversation_id: number | null };
  call?: { id: string; from_e164: string | null; status: string; callback_task_id: string | null; job_id: string | null; assignee_id: string | null; contact_name: string | null };
  document?: { id: string; kind: string; expires_on: string; vendor_id: string; vendor_name: string };
}

async function jobFacts(trx: Knex.Transaction, accountId: number, jobId: string): Promise<JobFacts | undefined> {
  return (await trx('jobs as j')
    .leftJoin('vendors as v', (on) => on.on('v.account_id', 'j.account_id').andOn('v.id', 'j.vendor_id'))
    .leftJoin('chatwoot_contacts as c', (on) => on.on('c.account_id', 'j.account_id').andOn('c.chatwoot_contact_id', 'j.chatwoot_contact_id'))
    .where({ 'j.account_id': accountId, 'j.id': jobId })
    .first(
      'j.id', 'j.number', 'j.summary', 'j.status', 'j.priority', 'j.source', 'j.address', 'j.window_starts_at', 'j.window_ends_at', 'j.sla_due_at',
      'j.vendor_id', 'v.name as vendor_name', 'j.owner_id', 'j.chatwoot_contact_id', 'c.name as contact_name', 'j.cancel_reason',
    )) as JobFacts | undefined;
}

/** Reads what the event is about; a resource deleted since is simply absent. */
export async function loadSubject(trx: Knex.Transaction, accountId: number, event: RaisedEvent): Promise<Subject> {
  const id = event.resource_id;
  switch (event.resource_type) {
    case 'job':
      return { job: await jobFacts(trx, accountId, id) };
    case 'task': {
      const task = await trx('tasks').where({ account_id: accountId, id }).whereNull('deleted_at').first('id', 'title', 'due_at', 'assignee_id', 'job_id', 'chatwoot_conversation_id');
      return { task, job: task?.job_id ? await jobFacts(trx, accountId, task.job_id) : undefined };
    }
    case 'call': {
      const call = await trx('calls as c')
        .leftJoin('tasks as t', (on) => on.on('t.account_id', 'c.account_id').andOn('t.id', 'c.callback_task_id'))
        .leftJoin('chatwoot_contacts as k', (on) => on.on('k.account_id', 'c.account_id').andOn('k.chatwoot_contact_id', 'c.chatwoot_contact_id'))
        .where({ 'c.account_id': accountId, 'c.id': id })
        .first('c.id', 'c.from_e164', 'c.status', 'c.callback_task_id', 'c.job_id', 't.assignee_id', 'k.name as contact_name');
      return { call, job: call?.job_id ? await jobFacts(trx, accountId, call.job_id) : undefined };
    }
    case 'vendor_document': {
      const document = await trx('vendor_documents as d')
        .join('vendors as v', (on) => on.on('v.account_id', 'd.account_id').andOn('v.id', 'd.vendor_id'))
        .where({ 'd.account_id': accountId, 'd.id': id })
        .first('d.id', 'd.kind', trx.raw(`to_char(d.expires_on, 'YYYY-MM-DD') as expires_on`), 'd.vendor_id', 'v.name as vendor_name');
      return { document };
    }
    default:
      return {};
  }
}

/** Admins and dispatchers of the account: who hears about the account's work as a whole. */
async function dispatchers(trx: Knex.Transaction, accountId: number): Promise<Recipient[]> {
  const rows = (await trx('users')
    .where({ account_id: accountId, active: true })
    .andWhere((q) => q.where('chatwoot_role', 'administrator').orWhereRaw(`'dispatcher' = any(granted_roles)`))
    .orderBy('name')
    .select('id', 'name')) as Array<{ id: string; name: string }>;
  return rows.map((r) => ({ kind: 'user', id: r.id, name: r.name }));
}

async function user(trx: Knex.Transaction, accountId: number, userId: string | null | undefined): Promise<Recipient[]> {
  if (!userId) return [];
  const row = (await trx('users').where({ account_id: accountId, id: userId, active: true }).first('id', 'name')) as { id: string; name: string } | undefined;
  return row ? [{ kind: 'user', id: row.id, name: row.name }] : [];
}

async function vendor(trx: Knex.Transaction, accountId: number, vendorId: string | null | undefined): Promise<Recipient[]> {
  if (!vendorId) return [];
  const row = (await trx('vendors').where({ account_id: accountId, id: vendorId }).whereNull('deleted_at').first('id', 'name')) as { id: string; name: string } | undefined;
  return row ? [{ kind: 'vendor', id: row.id, name: row.name }] : [];
}

const fromData = (event: RaisedEvent, side: 'before' | 'after', key: string) => {
  const record = (event.data as Record<string, Record<string, unknown> | null>)[side];
  const value = record?.[key];
  return typeof value === 'string' ? value : null;
};

/** Who hears `event`. People never hear about what they did themselves. */
export async function recipientsOf(trx: Knex.Transaction, accountId: number, rule: RecipientRule, event: RaisedEvent, subject: Subject): Promise<Recipient[]> {
  const list = await (async (): Promise<Recipient[]> => {
    switch (rule) {
      case 'dispatchers':
        return dispatchers(trx, accountId);
      case 'job_owner_or_dispatchers': {
        // An owner who has left (inactive) hands their news back to the dispatchers.
        const owner = await user(trx, accountId, subject.job?.owner_id);
        return owner.length ? owner : dispatchers(trx, accountId);
      }
      case 'new_job_owner':
        return user(trx, accountId, fromData(event, 'after', 'owner_id'));
      case 'task_assignee':
        return user(trx, accountId, subject.task?.assignee_id);
      case 'callback_assignee_or_dispatchers': {
        const assignee = await user(trx, accountId, subject.call?.assignee_id);
        return assignee.length ? assignee : dispatchers(trx, accountId);
      }
      case 'job_vendor':
        return vendor(trx, accountId, subject.job?.vendor_id);
      case 'assigned_vendor':
        return vendor(trx, accountId, fromData(event, 'after', 'vendor_id') ?? subject.job?.vendor_id);
      case 'withdrawn_vendor':
        return vendor(trx, accountId, fromData(event, 'before', 'vendor_id') ?? subject.job?.vendor_id);
      case 'document_vendor':
        return vendor(trx, accountId, subject.document?.vendor_id);
      case 'offered_vendor':
        return vendor(trx, accountId, fromData(event, 'after', 'vendor_id'));
      // A technician is reached through their vendor: its bell and push show a technician the
      // notifications about jobs given to them and those whose event names them (notifications/service.ts).
      // Their vendor is the one the event names (the job may have moved to another vendor since);
      // events raised before it was named fall back to the job's vendor.
      case 'given_technician':
        return fromData(event, 'after', 'technician_id') ? vendor(trx, accountId, fromData(event, 'after', 'technician_vendor_id') ?? subject.job?.vendor_id) : [];
      case 'former_technician':
        return fromData(event, 'before', 'technician_id') ? vendor(trx, accountId, fromData(event, 'after', 'technician_vendor_id') ?? subject.job?.vendor_id) : [];
      case 'job_client':
        return subject.job?.chatwoot_contact_id ? [{ kind: 'contact', id: String(subject.job.chatwoot_contact_id), name: subject.job.contact_name }] : [];
      case 'digest_owner':
        return user(trx, accountId, event.resource_id);
    }
  })();
  if (event.actor_type === 'user') return list.filter((r) => !(r.kind === 'user' && r.id === event.actor_id));
  // The owner who gives a job to a technician is of the same vendor: the technician must still hear it.
  const aboutTechnician = rule === 'given_technician' || rule === 'former_technician';
  if (event.actor_type === 'portal_user' && event.actor_id && !aboutTechnician) {
    // A vendor who accepted an offer (or a client who asked) needs no news of their own doing.
    const actor = (await trx('portal_users').where({ account_id: accountId, id: event.actor_id }).first('vendor_id', 'chatwoot_contact_id')) as
      | { vendor_id: string | null; chatwoot_contact_id: number | null }
      | undefined;
    if (actor) return list.filter((r) => !(r.kind === 'vendor' && r.id === actor.vendor_id) && !(r.kind === 'contact' && r.id === String(actor.chatwoot_contact_id)));
  }
  return list;
}

/**
 * A technician also hears of a job taken from them, though the job is no longer theirs: a query
 * (for whereExists) that holds when event `eventId` took its job from `technician` (both SQL
 * values: a column or a binding). The "given to" event of the same change is left out: one item.
 */
export function tookJobFrom(trx: Knex.Transaction, accountId: number, eventId: Knex.Raw, technician: Knex.Raw) {
  return trx('notification_events as e')
    .where('e.account_id', accountId)
    .whereRaw('e.id = ?', [eventId])
    .whereNot('e.event', 'vendor.job_given_to_technician')
    .whereRaw(`e.data->'before'->>'technician_id' = ?`, [technician]);
}

/**
 * A query (for whereNotExists) that holds when event `eventId` is the doing of portal user
 * `portalUser` (both SQL values): a vendor's news is not told to the one of its people who did it.
 */
export function ownDoing(trx: Knex.Transaction, accountId: number, eventId: Knex.Raw, portalUser: Knex.Raw) {
  return trx('notification_events as own')
    .where('own.account_id', accountId)
    .whereRaw('own.id = ?', [eventId])
    .where('own.actor_type', 'portal_user')
    .whereRaw('own.actor_id = ?', [portalUser]);
}

export interface Addresses {
  email: string | null;
  phone: string | null;
  /** The Chatwoot conversation a client update goes out on. */
  conversationId: number | null;
  timeZone: string | null;
}

/**
 * How a recipient is reached. Vendors: their own Chatwoot contact's details, else their portal
 * users'. Clients: their contact's, else their portal user's; the conversation is the job's linked
 * one, else the contact's most recent open one.
 */
export async function addressesOf(trx: Knex.Transaction, accountId: number, recipient: Recipient, subject: Subject): Promise<Addresses> {
  if (recipient.kind === 'user') {
    const row = await trx('users').where({ account_id: accountId, id: recipient.id }).first('email');
    return { email: row?.email ?? null, phone: null, conversationId: null, timeZone: null };
  }
  if (recipient.kind === 'vendor') {
    const row = await trx('vendors as v')
      .leftJoin('chatwoot_contacts as c', (on) => on.on('c.account_id', 'v.account_id').andOn('c.chatwoot_contact_id', 'v.chatwoot_contact_id'))
      .where({ 'v.account_id': accountId, 'v.id': recipient.id })
      .first('c.email', 'c.phone_e164', 'v.time_zone');
    // The vendor's own address, else an owner's: a technician must not get news of jobs not theirs.
    const portal = await trx('portal_users').where({ account_id: accountId, kind: 'vendor', vendor_id: recipient.id, vendor_role: 'owner', active: true }).orderBy('created_at').first('email', 'phone');
    return { email: row?.email ?? portal?.email ?? null, phone: row?.phone_e164 ?? portal?.phone ?? null, conversationId: null, timeZone: row?.time_zone ?? null };
  }
  const contactId = Number(recipient.id);
  const contact = await trx('chatwoot_contacts').where({ account_id: accountId, chatwoot_contact_id: contactId }).first('email', 'phone_e164');
  const portal = await trx('portal_users').where({ account_id: accountId, kind: 'client', chatwoot_contact_id: contactId, active: true }).first('email', 'phone');
  let conversationId: number | null = null;
  if (subject.job) {
    // Only a linked conversation that is the client's own: a job may also be linked to a
    // neighbour's call or the vendor's thread, which must never get the client's updates.
    const linked = await trx('job_conversations as l')
      .join('chatwoot_conversations as c', (on) => on.on('c.account_id', 'l.account_id').andOn('c.chatwoot_conversation_id', 'l.chatwoot_conversation_id'))
      .where({ 'l.account_id': accountId, 'l.job_id': subject.job.id, 'c.chatwoot_contact_id': contactId })
      .orderByRaw(`(c.status = 'open') desc nulls last, c.last_activity_at desc nulls last, l.linked_at desc`)
      .first('l.chatwoot_conversation_id');
    conversationId = linked?.chatwoot_conversation_id ?? null;
  }
  if (!conversationId) {
    const open = await trx('chatwoot_conversations')
      .where({ account_id: accountId, chatwoot_contact_id: contactId, status: 'open' })
      .orderByRaw('last_activity_at desc nulls last')
      .first('chatwoot_conversation_id');
    conversationId = open?.chatwoot_conversation_id ?? null;
  }
  return { email: contact?.email ?? portal?.email ?? null, phone: contact?.phone_e164 ?? portal?.phone ?? null, conversationId, timeZone: null };
}

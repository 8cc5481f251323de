// A person's data as JSON, on request: everything Onelink holds about one Chatwoot contact, read
// in one read-only snapshot. Files are listed with signed download links (the same links the
// apps use, valid for a day here so the export can be passed on); storage keys never appear.
import type { Knex } from 'knex';
import type { RequestContext } from '../context.ts';
import { read } from '../db/tenant.ts';
import { NotFoundError } from '../errors.ts';
import type { Services } from '../services.ts';
import { findPerson, isKnown, type PersonRows } from './person.ts';

/** How long the export's file links stay valid. */
export const exportLinkHours = 24;

type Row = Record<string, unknown>;

const byIds = (trx: Knex.Transaction, table: string, accountId: number, column: string, list: readonly unknown[]) =>
  list.length ? trx(table).where({ account_id: accountId }).whereIn(column, list as string[]) : null;

async function rowsOf(query: Knex.QueryBuilder | null, columns: string[] | '*' = '*'): Promise<Row[]> {
  if (!query) return [];
  return (await (columns === '*' ? query.select('*') : query.select(columns))) as Row[];
}

/** A stored file as the export shows it: what it is and where to download it, never its storage key. */
function fileEntry(link: string, file: { filename: unknown; content_type: unknown; size: unknown }, extra: Row) {
  return { ...extra, filename: file.filename, content_type: file.content_type, size_bytes: file.size === undefined || file.size === null ? null : Number(file.size), url: link };
}

async function files(services: Pick<Services, 'urlSigner' | 'config'>, trx: Knex.Transaction, accountId: number, person: PersonRows, expires: Date) {
  const base = services.config.PUBLIC_URL.replace(/\/+$/, '');
  // Job files: every file on the person's jobs, and any their portal users uploaded elsewhere.
  const artifacts = (await trx('job_artifacts')
    .where({ account_id: accountId })
    .whereNull('deleted_at')
    .andWhere((q) => {
      if (person.jobIds.length) q.whereIn('job_id', person.jobIds);
      else q.whereRaw('false');
      if (person.portalUserIds.length) q.orWhere((u) => u.where({ uploaded_by_type: 'portal_user' }).whereIn('uploaded_by_id', person.portalUserIds));
    })
    .orderBy('created_at')
    .select('id', 'job_id', 'kind', 'filename', 'content_type', 'size_bytes', 'visibility', 'uploaded_by_type', 'uploaded_by_id', 'created_at')) as Row[];
  const jobFiles = artifacts.map((a) =>
    fileEntry(
      `${base}/api/v1/artifacts/content?token=${services.urlSigner.sign({ a: accountId, i: String(a.id), v: 'original' }, expires)}`,
      { filename: a.filename, content_type: a.content_type, size: a.size_bytes },
      { source: 'job_file', job_id: a.job_id, kind: a.kind, visibility: a.visibility, uploaded_by_them: a.uploaded_by_type === 'portal_user' && person.portalUserIds.includes(String(a.uploaded_by_id)), created_at: a.created_at },
    ),
  );
  const messages = person.portalUserIds.length
    ? ((await trx('client_messages').where({ account_id: accountId }).whereIn('portal_user_id', person.portalUserIds).orderBy('created_at').select('id', 'direction', 'attachments', 'created_at')) as Row[])
    : [];
  const attachments = messages.flatMap((m) =>
    ((m.attachments as Array<Record<string, unknown>> | null) ?? []).flatMap((a, index) =>
      typeof a?.storage_key === 'string'
        ? [
            fileEntry(
              `${base}/api/v1/portal/client/message-attachments/content?token=${services.urlSigner.sign({ k: 'client_message', a: accountId, m: String(m.id), n: index }, expires)}`,
              { filename: a.filename, content_type: a.content_type, size: a.size },
              { source: 'message_attachment', message_id: m.id, uploaded_by_them: m.direction === 'from_client', created_at: m.created_at },
            ),
          ]
        : [],
    ),
  );
  return [...jobFiles, ...attachments];
}

/**
 * Everything about the Chatwoot contact `contactId` in the context's account, as one JSON
 * document (404 when nothing here names the contact).
 */
export async function exportContact(services: Pick<Services, 'urlSigner' | 'config'>, ctx: RequestContext, contactId: number) {
  const { accountId } = ctx;
  return read(ctx, async (trx) => {
    const person = await findPerson(trx, accountId, contactId);
    if (!isKnown(person)) throw new NotFoundError('Contact');
    const expires = new Date(Date.now() + exportLinkHours * 3600_000);
    const portalUsers = person.portalUserIds;
    const recipient = { account_id: accountId, recipient_kind: 'contact', recipient_id: String(contactId) };

    const deals = await rowsOf(byIds(trx, 'deals', accountId, 'id', person.dealIds)?.orderBy('created_at') ?? null, [
      'id', 'number', 'title', 'status', 'lost_reason', 'pipeline_id', 'stage_id', 'amount_minor', 'currency', 'owner_id', 'chatwoot_contact_id', 'chatwoot_conversation_id',
      'expected_close_date', 'custom_fields', 'source', 'created_at', 'updated_at', 'deleted_at',
    ]);
    const dealNotes = await rowsOf(byIds(trx, 'deal_notes', accountId, 'deal_id', person.dealIds)?.whereNull('deleted_at').orderBy('created_at') ?? null, ['id', 'deal_id', 'author_type', 'author_id', 'body', 'created_at']);
    const quotes = await rowsOf(byIds(trx, 'deal_quotes', accountId, 'deal_id', person.dealIds)?.orderBy('created_at') ?? null, [
      'id', 'deal_id', 'title', 'amount_minor', 'currency', 'status', 'shared_at', 'decided_at', 'decided_ip', 'decided_user_agent', 'decision_comment', 'filename', 'created_at',
    ]);
    const jobs = await rowsOf(byIds(trx, 'jobs', accountId, 'id', person.jobIds)?.orderBy('created_at') ?? null, [
      'id', 'number', 'status', 'priority', 'source', 'summary', 'notes', 'service_category', 'address', 'postal_code', 'lat', 'lng', 'window_starts_at', 'window_ends_at',
      'preferred_starts_at', 'preferred_ends_at', 'chatwoot_contact_id', 'vendor_id', 'custom_fields', 'cancel_reason', 'created_at', 'completed_at', 'updated_at',
    ]);
    const jobEvents = await rowsOf(byIds(trx, 'job_events', accountId, 'job_id', person.jobIds)?.orderBy('id') ?? null, ['id', 'job_id', 'kind', 'data', 'actor_type', 'actor_id', 'occurred_at']);
    const tasks = await rowsOf(byIds(trx, 'tasks', accountId, 'id', person.taskIds)?.orderBy('created_at') ?? null, [
      'id', 'title', 'description', 'status', 'priority', 'due_at', 'chatwoot_contact_id', 'deal_id', 'job_id', 'chatwoot_conversation_id', 'completed_at', 'created_at', 'deleted_at',
    ]);
    const calls = await rowsOf(byIds(trx, 'calls', accountId, 'id', person.callIds)?.orderBy('started_at') ?? null, [
      'id', 'direction', 'from_e164', 'to_e164', 'status', 'started_at', 'ended_at', 'duration_seconds', 'recording_duration_seconds', 'transcript', 'disposition',
      'chatwoot_contact_id', 'chatwoot_conversation_id', 'job_id', 'callback_task_id',
    ]);
    const conversations = await rowsOf(byIds(trx, 'chatwoot_conversations', accountId, 'chatwoot_conversation_id', person.conversationIds)?.orderBy('chatwoot_conversation_id') ?? null, [
      'chatwoot_conversation_id', 'inbox_id', 'status', 'labels', 'last_activity_at', 'first_customer_message_at', 'first_reply_at',
    ]);
    const users = await rowsOf(byIds(trx, 'portal_users', accountId, 'id', portalUsers) ?? null, ['id', 'name', 'email', 'phone', 'active', 'created_at', 'updated_at']);
    const sessions = await rowsOf(
      portalUsers.length ? trx('sessions').where({ account_id: accountId, subject_type: 'portal_user' }).whereIn('subject_id', portalUsers).orderBy('created_at') : null,
      ['subject_id', 'created_at', 'last_used_at', 'expires_at', 'revoked_at', 'user_agent', 'ip'],
    );
    const threads = await rowsOf(byIds(trx, 'client_threads', accountId, 'portal_user_id', portalUsers)?.orderBy('created_at') ?? null, ['id', 'portal_user_id', 'job_id', 'chatwoot_conversation_id', 'created_at']);
    const messages = await rowsOf(byIds(trx, 'client_messages', accountId, 'portal_user_id', portalUsers)?.orderBy('created_at') ?? null, ['id', 'thread_id', 'direction', 'author_name', 'content', 'status', 'created_at', 'sent_at']);
    const notifications = await rowsOf(trx('notifications').where(recipient).orderBy('created_at'), ['event', 'title', 'body', 'created_at', 'read_at']);
    const deliveries = await rowsOf(trx('notification_deliveries').where(recipient).orderBy('created_at'), ['event', 'channel', 'address', 'status', 'created_at', 'sent_at']);
    const preferences = await rowsOf(trx('notification_preferences').where(recipient), ['channels', 'quiet_start', 'quiet_end', 'time_zone', 'digest', 'updated_at']);
    const vendorLinks = await rowsOf(trx('vendor_client_links').where({ account_id: accountId, chatwoot_contact_id: contactId }), ['vendor_id', 'relation', 'note', 'created_at']);
    // The trail about them: the contact itself, their portal users (also as actors), their deals, jobs, tasks and calls.
    const resources: Array<[string, readonly unknown[]]> = [
      ['contact', [contactId]],
      ['portal_user', portalUsers],
      ['deal', person.dealIds],
      ['job', person.jobIds],
      ['task', person.taskIds],
      ['call', person.callIds],
    ];
    const audit = (await trx('audit_events')
      .where({ account_id: accountId })
      .andWhere((q) => {
        for (const [type, list] of resources) if (list.length) q.orWhere((r) => r.where({ resource_type: type }).whereIn('resource_id', list.map(String)));
        if (portalUsers.length) q.orWhere((r) => r.where({ actor_type: 'portal_user' }).whereIn('actor_id', portalUsers));
      })
      .orderBy('id')
      .select('id', 'occurred_at', 'actor_type', 'actor_id', 'action', 'resource_type', 'resource_id', 'before', 'after')) as Row[];

    return {
      exported_at: new Date(),
      chatwoot_contact_id: contactId,
      erased_at: person.erasedAt,
      links_expire_at: expires,
      contact: person.contact ?? null,
      conversations,
      deals: deals.map((d) => ({ ...d, notes: dealNotes.filter((n) => n.deal_id === d.id), quotes: quotes.filter((q) => q.deal_id === d.id) })),
      jobs: jobs.map((j) => ({ ...j, events: jobEvents.filter((e) => e.job_id === j.id) })),
      tasks,
      calls,
      portal_users: users.map((u) => ({ ...u, sessions: sessions.filter((s) => s.subject_id === u.id).map(({ subject_id: _s, ...s }) => s) })),
      client_threads: threads.map((t) => ({ ...t, messages: messages.filter((m) => m.thread_id === t.id) })),
      notifications,
      notification_deliveries: deliveries,
      notification_preferences: preferences,
      vendor_client_links: vendorLinks,
      files: await files(services, trx, accountId, person, expires),
      audit_events: audit,
    };
  });
}

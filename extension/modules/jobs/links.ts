// A job's links to Chatwoot conversations and deals, and the activity they bring. Other modules
// (the calls workflow, the conversation cache) link and stamp through these functions instead
// of writing job_conversations or jobs rows themselves.
import type { Knex } from 'knex';
import { queueWriteBack } from '../../chatwoot/outbox-queue.ts';
import type { RequestContext } from '../../context.ts';
import { write, type Audit } from '../../db/tenant.ts';
import { invalidField, withReferenceFields } from '../../errors.ts';
import { appendJobEvent, jobAttributes, loadJob } from './records.ts';
import { jobReference } from './rules.ts';

/**
 * Links a conversation to a job inside the caller's unit of work (a call threaded into Chatwoot,
 * a job opened from a call); a contact given fills the job's client when it has none. The story
 * and the audit record the link once; linking again changes nothing and returns false.
 */
export async function linkConversationToJob(trx: Knex.Transaction, ctx: RequestContext, audit: Audit, jobId: string, conversationId: number, contactId?: number | null): Promise<boolean> {
  const inserted = (await trx('job_conversations')
    .insert({ account_id: ctx.accountId, job_id: jobId, chatwoot_conversation_id: conversationId })
    .onConflict()
    .ignore()
    .returning('job_id')) as unknown[];
  if (contactId != null) {
    await trx('jobs').where({ account_id: ctx.accountId, id: jobId }).whereNull('chatwoot_contact_id').update({ chatwoot_contact_id: contactId });
  }
  if (!inserted.length) return false;
  await appendJobEvent(trx, ctx, jobId, 'linked', { chatwoot_conversation_id: conversationId });
  await audit({ action: 'job.linked', resourceType: 'job', resourceId: jobId, after: { chatwoot_conversation_id: conversationId } });
  return true;
}

/**
 * Customer activity seen in conversations moves the last activity of the jobs linked to them
 * (forward only, so replays change nothing). `rows` are conversation ids with their newest
 * customer message time (ISO).
 */
export async function stampJobActivity(trx: Knex.Transaction, accountId: number, rows: Array<{ id: number; customer_at: string | null }>): Promise<void> {
  const customer = rows.filter((r) => r.customer_at);
  if (!customer.length) return;
  await trx.raw(
    `update jobs j set last_activity_at = i.customer_at
       from (select id, max(customer_at) as customer_at
               from jsonb_to_recordset(?::jsonb) as r(id bigint, customer_at timestamptz) group by id) i,
            job_conversations jc
      where j.account_id = ? and jc.account_id = j.account_id and jc.job_id = j.id and jc.chatwoot_conversation_id = i.id
        and (j.last_activity_at is null or j.last_activity_at < i.customer_at)`,
    [JSON.stringify(customer.map((r) => ({ id: r.id, customer_at: r.customer_at }))), accountId],
  );
}

// A deal deleted between the check and the insert is still refused as unknown.
const unknownReferences = { deal_id: { field: 'deal_ids', message: 'No such deal in this account', code: 'unknown_deal' } };

/** A person links or unlinks a conversation or a deal (PUT/DELETE /jobs/:id/conversations|deals/…). */
export async function linkJob(ctx: RequestContext, jobId: string, input: { conversation_id?: number; deal_id?: string }, unlink = false) {
  return withReferenceFields(
    () =>
      write(ctx, async (trx, audit) => {
        const job = await loadJob(trx, ctx, jobId, true);
        if (input.deal_id) {
          const deal = await trx('deals').where({ account_id: ctx.accountId, id: input.deal_id }).whereNull('deleted_at').first('id');
          if (!deal) throw invalidField('deal_id', 'No such deal in this account', 'unknown_deal', 'Unknown deal');
        }
        const table = input.deal_id ? 'job_deals' : 'job_conversations';
        const key = input.deal_id ? { deal_id: input.deal_id } : { chatwoot_conversation_id: input.conversation_id };
        const changed = unlink
          ? await trx(table).where({ account_id: ctx.accountId, job_id: jobId, ...key }).delete()
          : ((await trx(table).insert({ account_id: ctx.accountId, job_id: jobId, ...key }).onConflict().ignore().returning('job_id')) as unknown[]).length;
        if (!changed) {
          audit.nothingChanged();
          return { job_id: jobId, ...key, linked: !unlink };
        }
        await appendJobEvent(trx, ctx, jobId, unlink ? 'unlinked' : 'linked', key);
        if (!unlink && input.conversation_id) {
          await queueWriteBack(trx, ctx, input.conversation_id, [
            { kind: 'note', content: `Onelink · ${jobReference(job.number)} “${job.summary}” linked to this conversation (${job.status.replace('_', ' ')})` },
            jobAttributes(job),
          ]);
        }
        await audit({ action: unlink ? 'job.unlinked' : 'job.linked', resourceType: 'job', resourceId: jobId, after: key });
        return { job_id: jobId, ...key, linked: !unlink };
      }),
    unknownReferences,
  );
}

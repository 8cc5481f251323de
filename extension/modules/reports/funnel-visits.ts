// Stage visits: one per time a deal entered a stage (created in it, or moved into it from another
// stage or pipeline), with when it left and which stage it went to, and its deal's status, deletion,
// owner and source as they are now. The funnel reads them from deal_stage_visits, which triggers on
// deal_stage_events and deals keep; this computes the same rows straight from the events and the
// deals, so a test can hold the kept rows to it.
import type { Knex } from 'knex';

export interface StageVisit {
  event_id: string;
  deal_id: string;
  pipeline_id: string;
  stage_id: string;
  entered_at: Date;
  left_at: Date | null;
  next_stage_id: string | null;
  deal_status: string;
  deal_deleted: boolean;
  deal_owner_id: string | null;
  deal_source: string;
}

/**
 * The visits of an account's deals, from deal_stage_events alone. A deal's events in time order
 * (ties by id): an event opens a visit when it is the deal's first or names another stage than the
 * one before it (a status change in place — won, lost, reopened without a stage — is no visit). A
 * visit ends when the next visit begins. The deal's columns are read from deals as they are now.
 */
export async function freshDealStageVisits(trx: Knex.Transaction, accountId: number): Promise<StageVisit[]> {
  const { rows } = await trx.raw<{ rows: StageVisit[] }>(
    `with ordered as (
       select e.id, e.deal_id, e.to_stage_id, e.occurred_at,
              lag(e.to_stage_id) over (partition by e.deal_id order by e.occurred_at, e.id) as stage_before
         from deal_stage_events e
        where e.account_id = ?
     ), entries as (
       select o.*, row_number() over (partition by o.deal_id order by o.occurred_at, o.id) as n
         from ordered o
        where o.stage_before is distinct from o.to_stage_id
     )
     select cur.id::text as event_id, cur.deal_id, s.pipeline_id, cur.to_stage_id as stage_id, cur.occurred_at as entered_at,
            nxt.occurred_at as left_at, nxt.to_stage_id as next_stage_id,
            d.status as deal_status, d.deleted_at is not null as deal_deleted, d.owner_id as deal_owner_id, d.source as deal_source
       from entries cur
       join stages s on s.account_id = ? and s.id = cur.to_stage_id
       join deals d on d.account_id = ? and d.id = cur.deal_id
       left join entries nxt on nxt.deal_id = cur.deal_id and nxt.n = cur.n + 1
      order by cur.id`,
    [accountId, accountId, accountId],
  );
  return rows;
}

/** The kept rows, in the same shape and order. */
export async function keptDealStageVisits(trx: Knex.Transaction, accountId: number): Promise<StageVisit[]> {
  const { rows } = await trx.raw<{ rows: StageVisit[] }>(
    `select v.event_id::text as event_id, v.deal_id, v.pipeline_id, v.stage_id, v.entered_at, v.left_at, v.next_stage_id,
            v.deal_status, v.deal_deleted, v.deal_owner_id, v.deal_source
       from deal_stage_visits v where v.account_id = ? order by v.event_id`,
    [accountId],
  );
  return rows;
}

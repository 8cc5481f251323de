// The pipeline funnel report:
//
//   deals               source: where the deal came from (manual, chat, call, portal, automation, api),
//                       filled in for existing deals from what created them
//   deal_stage_visits   one row per time a deal entered a stage (its creation, or a move to another
//                       stage), with when it left and where it went next; kept by a trigger on
//                       deal_stage_events in the same transaction, so the report reads a range of
//                       visits by (pipeline, entered_at) instead of windowing every event. Each row
//                       also carries what the report filters on of its deal as it is today (status,
//                       deleted, owner, source), kept by a trigger on deals in the same transaction,
//                       so the stage figures read the visits' index alone instead of every deal
//   indexes             deals by (pipeline, created_at) for cohorts; close events (won/lost) by time
//
// Every key and index leads with account_id.
import type { Knex } from 'knex';

const currentAccount = `nullif(current_setting('onelink.account_id', true), '')::bigint`;
const sources = ['manual', 'chat', 'call', 'portal', 'automation', 'api'];

/** Runs `fn` with row security lifted on `tables` (a statement outside an account sees no rows). */
async function unscoped(knex: Knex, tables: string[], fn: () => Promise<unknown>) {
  for (const table of tables) await knex.raw(`alter table ?? no force row level security`, [table]);
  await fn();
  for (const table of tables) await knex.raw(`alter table ?? force row level security`, [table]);
}

/**
 * The visits of deals' stage events, with the deal as it is today: a stage change opens a visit, an
 * event in the same stage (won, lost, reopened in place) does not. `touched` narrows the events to
 * some deals (a join on `e`), or is empty for all of them.
 */
const insertVisits = (touched: string) => `
  insert into deal_stage_visits (account_id, event_id, deal_id, pipeline_id, stage_id, entered_at, left_at, next_stage_id,
                                 deal_status, deal_deleted, deal_owner_id, deal_source)
  select v.account_id, v.event_id, v.deal_id, v.pipeline_id, v.stage_id, v.entered_at, v.left_at, v.next_stage_id,
         d.status, d.deleted_at is not null, d.owner_id, d.source
    from (select account_id, id as event_id, deal_id, pipeline_id, to_stage_id as stage_id, occurred_at as entered_at,
                 lead(occurred_at) over deal_visits as left_at, lead(to_stage_id) over deal_visits as next_stage_id
            from (select e.account_id, e.id, e.deal_id, e.to_stage_id, e.occurred_at, s.pipeline_id,
                         lag(e.to_stage_id) over (partition by e.account_id, e.deal_id order by e.occurred_at, e.id) as previous_stage_id
                    from deal_stage_events e
                    ${touched}
                    join stages s on s.account_id = e.account_id and s.id = e.to_stage_id) events
           where previous_stage_id is null or previous_stage_id <> to_stage_id
          window deal_visits as (partition by account_id, deal_id order by occurred_at, id)) v
    join deals d on d.account_id = v.account_id and d.id = v.deal_id`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`alter table deals add column source text not null default 'manual'`);
  await knex.raw(`alter table deals add constraint deals_source check (source in (${sources.map((s) => `'${s}'`).join(', ')}))`);
  // What created the deal, as far as the row tells: a linked conversation means it came from a chat.
  await unscoped(knex, ['deals'], () =>
    knex.raw(`update deals set source = case
                when chatwoot_conversation_id is not null then 'chat'
                when created_by_type = 'service' then 'api'
                when created_by_type = 'system' then 'automation'
                when created_by_type = 'portal_user' then 'portal'
                else 'manual' end`),
  );
  // Cohorts read status, owner and source from the index (an index-only scan) for a range of creation.
  await knex.raw(`create index deals_pipeline_created on deals (account_id, pipeline_id, created_at) include (status, owner_id, source) where deleted_at is null`);

  // Close events (a deal becoming won or lost) by time: win rate, velocity and lost reasons read a
  // range of these without touching the other events.
  await knex.raw(`create index deal_stage_events_closed on deal_stage_events (account_id, occurred_at) include (deal_id, to_stage_id, to_status, id)
                   where to_status in ('won', 'lost') and from_status is distinct from to_status`);
  // The few deleted deals, so the overview's closes leave them out without looking up every deal.
  await knex.raw(`create index deals_deleted on deals (account_id, id) where deleted_at is not null`);
  // What the closes read of their deals (amount, status, reason, filters), from the index alone.
  await knex.raw(`create index deals_report_attributes on deals (account_id, id) include (status, amount_minor, currency, owner_id, source, lost_reason)
                   where deleted_at is null`);

  await knex.schema.createTable('deal_stage_visits', (t) => {
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');
    // The deal_stage_events row that entered the stage (rows derive from events, which reference the deal).
    t.bigInteger('event_id').notNullable();
    t.uuid('deal_id').notNullable();
    t.uuid('pipeline_id').notNullable();
    t.uuid('stage_id').notNullable();
    t.timestamp('entered_at', { useTz: true }).notNullable();
    // Null while the deal is still in the stage.
    t.timestamp('left_at', { useTz: true });
    t.uuid('next_stage_id');
    // The deal as it is today (copied from deals, kept by triggers): the report's filters and scope.
    t.text('deal_status').notNullable();
    t.boolean('deal_deleted').notNullable();
    t.uuid('deal_owner_id');
    t.text('deal_source').notNullable();
    t.primary(['account_id', 'event_id']);
    t.check('(left_at is null) = (next_stage_id is null)', [], 'deal_stage_visits_left');
  });
  // A stage's visits by time, with everything the stage figures and their drill-down read of them,
  // so each stage's range is an index-only scan.
  await knex.raw(`create index deal_stage_visits_range on deal_stage_visits (account_id, pipeline_id, stage_id, entered_at)
                   include (left_at, next_stage_id, deal_status, deal_owner_id, deal_source, deal_id, event_id) where not deal_deleted`);
  await knex.raw(`create index deal_stage_visits_deal on deal_stage_visits (account_id, deal_id)`);
  await knex.raw(`alter table deal_stage_visits enable row level security, force row level security`);
  await knex.raw(`create policy tenant_isolation on deal_stage_visits using (account_id = ${currentAccount}) with check (account_id = ${currentAccount})`);

  // The visits of every deal an insert touched are rebuilt from all of that deal's events: a stage
  // change opens a visit, an event in the same stage (won, lost, reopened in place) does not. A
  // rebuild (rather than patching the last visit) stays right when events arrive out of time order
  // and for bulk inserts. The statements are planned afresh each time (execute), so one event reads
  // its deal's few events through the deal index. A bulk insert (an import) joins by hash: a
  // table filled in the same transaction has no statistics yet, and the planner would otherwise
  // pick a nested loop over every event for every deal.
  await knex.raw(`
    create function deal_stage_visits_rebuild() returns trigger language plpgsql as $$
    declare
      bulk boolean;
      nestloop text := current_setting('enable_nestloop');
    begin
      execute 'select count(*) > 500 from (select 1 from inserted_events limit 501) n' into bulk;
      if bulk then perform set_config('enable_nestloop', 'off', true); end if;
      execute $sql$
        delete from deal_stage_visits v
         using (select distinct account_id, deal_id from inserted_events) touched
         where v.account_id = touched.account_id and v.deal_id = touched.deal_id
      $sql$;
      execute $sql$
        ${insertVisits('join (select distinct account_id, deal_id from inserted_events) touched on touched.account_id = e.account_id and touched.deal_id = e.deal_id')}
      $sql$;
      if bulk then perform set_config('enable_nestloop', nestloop, true); end if;
      return null;
    end $$;
    create trigger deal_stage_events_visits after insert on deal_stage_events
      referencing new table as inserted_events
      for each statement execute function deal_stage_visits_rebuild();
  `);

  // A deal's status, deletion, owner or source changing is copied onto its visits (a handful of
  // rows, found by the deal index), in the same transaction.
  await knex.raw(`
    create function deal_stage_visits_follow_deal() returns trigger language plpgsql as $$
    begin
      update deal_stage_visits
         set deal_status = new.status, deal_deleted = new.deleted_at is not null, deal_owner_id = new.owner_id, deal_source = new.source
       where account_id = new.account_id and deal_id = new.id;
      return null;
    end $$;
    create trigger deals_stage_visits after update of status, deleted_at, owner_id, source on deals
      for each row
      when (old.status is distinct from new.status or (old.deleted_at is null) <> (new.deleted_at is null)
            or old.owner_id is distinct from new.owner_id or old.source is distinct from new.source)
      execute function deal_stage_visits_follow_deal();
  `);

  // Visits of the events already recorded.
  await unscoped(knex, ['deal_stage_events', 'stages', 'deals', 'deal_stage_visits'], () =>
    knex.raw(insertVisits('')),
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop trigger if exists deals_stage_visits on deals`);
  await knex.raw(`drop function if exists deal_stage_visits_follow_deal()`);
  await knex.raw(`drop trigger if exists deal_stage_events_visits on deal_stage_events`);
  await knex.raw(`drop function if exists deal_stage_visits_rebuild()`);
  await knex.schema.dropTableIfExists('deal_stage_visits');
  await knex.raw(`drop index if exists deals_report_attributes`);
  await knex.raw(`drop index if exists deals_deleted`);
  await knex.raw(`drop index if exists deal_stage_events_closed`);
  await knex.raw(`drop index if exists deals_pipeline_created`);
  await knex.raw(`alter table deals drop constraint if exists deals_source`);
  await knex.raw(`alter table deals drop column if exists source`);
}

// What the dispatch report and the vendor scorecard read without scanning event tables:
//
//   job_milestones   one row per job, the moments its story reached (created, first triaged,
//                    first assigned, first arrival — on the way or started — and by which vendor,
//                    the completion or cancelation it is in now, how often it left completed), the
//                    job's own fields the reports filter and judge by (source, priority, category,
//                    vendor, SLA due time, window) and its checklist counts; kept by triggers on jobs,
//                    job_events and job_checklist_items in the writing transaction, so a report
//                    reads one index range of it and never the jobs themselves
//   job_event_time   when an event counts: a vendor's start or finish queued offline counts at its
//                    checked device time (as jobs.started_at / completed_at do), anything else when written
//   indexes          offers by send time (per account, per vendor); missed inbound calls by start;
//                    outbound calls by the number called (the call back)
//
// The report module's freshJobMilestones computes the same rows from the raw events; a test holds the
// two equal after random event streams.
import type { Knex } from 'knex';

const currentAccount = `nullif(current_setting('onelink.account_id', true), '')::bigint`;

/** The same rows as the triggers keep, from the raw rows (jobs and job_events); `where` narrows the jobs `j`. */
export const freshMilestonesSql = (where: string) => `
  select j.account_id, j.id as job_id, j.created_at, j.source, j.priority, j.service_category, j.vendor_id, j.sla_due_at, j.window_starts_at,
         s.triaged_at, a.assigned_at, cur.vendor_id as story_vendor_id, arr.arrived_at, arr.vendor_id as arrival_vendor_id,
         case when last.target = 'completed' then last.at end as completed_at,
         case when last.target = 'canceled' then last.at end as canceled_at,
         s.reopened_count, ci.items as checklist_items, ci.done as checklist_done
    from jobs j
    cross join lateral (
      select count(*)::int as items, count(c.done_at)::int as done
        from job_checklist_items c where c.account_id = j.account_id and c.job_id = j.id) ci
    cross join lateral (
      select min(job_event_time(e.kind, e.data, e.occurred_at)) filter (where e.data->>'to' in ('triaged', 'assigned')) as triaged_at,
             count(*) filter (where e.data->>'from' = 'completed')::int as reopened_count
        from job_events e where e.account_id = j.account_id and e.job_id = j.id and e.kind = 'status_changed') s
    cross join lateral (
      select min(job_event_time(e.kind, e.data, e.occurred_at)) as assigned_at
        from job_events e where e.account_id = j.account_id and e.job_id = j.id and e.kind = 'assigned') a
    left join lateral (
      select case when e.kind = 'unassigned' then null else (e.data->>'vendor_id')::uuid end as vendor_id
        from job_events e where e.account_id = j.account_id and e.job_id = j.id and e.kind in ('assigned', 'reassigned', 'unassigned')
       order by e.id desc limit 1) cur on true
    left join lateral (
      select x.at as arrived_at,
             (select case when v.kind = 'unassigned' then null else (v.data->>'vendor_id')::uuid end
                from job_events v
               where v.account_id = j.account_id and v.job_id = j.id and v.kind in ('assigned', 'reassigned', 'unassigned') and v.id < x.id
               order by v.id desc limit 1) as vendor_id
        from (select e.id, job_event_time(e.kind, e.data, e.occurred_at) as at
                from job_events e
               where e.account_id = j.account_id and e.job_id = j.id
                 and (e.kind in ('en_route', 'started') or (e.kind = 'status_changed' and e.data->>'to' = 'in_progress'))
               order by 2, 1 limit 1) x) arr on true
    left join lateral (
      select e.data->>'to' as target, job_event_time(e.kind, e.data, e.occurred_at) as at
        from job_events e where e.account_id = j.account_id and e.job_id = j.id and e.kind = 'status_changed'
       order by e.id desc limit 1) last on true
   where ${where}`;

/** The rollup's columns, in the order freshMilestonesSql selects them. */
export const milestoneColumns = [
  'account_id', 'job_id', 'created_at', 'source', 'priority', 'service_category', 'vendor_id', 'sla_due_at', 'window_starts_at',
  'triaged_at', 'assigned_at', 'story_vendor_id', 'arrived_at', 'arrival_vendor_id', 'completed_at', 'canceled_at', 'reopened_count', 'checklist_items', 'checklist_done',
] as const;

/** Row security lifted for the table's owner while `fn` runs (a statement outside an account sees no rows). */
async function unscoped(knex: Knex, tables: string[], fn: () => Promise<unknown>) {
  for (const table of tables) await knex.raw(`alter table ?? no force row level security`, [table]);
  await fn();
  for (const table of tables) await knex.raw(`alter table ?? force row level security`, [table]);
}

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create function job_event_time(kind text, data jsonb, occurred_at timestamptz) returns timestamptz language sql stable as $$
      select case
        when kind in ('status_changed', 'started') and data->'offline' = 'true'::jsonb
             and pg_input_is_valid(coalesce(data->>'counted_at', data->>'device_time'), 'timestamptz')
        then coalesce(data->>'counted_at', data->>'device_time')::timestamptz
        else occurred_at end
    $$`);

  await knex.schema.createTable('job_milestones', (t) => {
    t.bigInteger('account_id').notNullable().references('account_id').inTable('accounts').onDelete('cascade');
    t.uuid('job_id').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    // The job's own fields, as they are now.
    t.text('source').notNullable();
    t.text('priority').notNullable();
    t.text('service_category');
    t.uuid('vendor_id');
    t.timestamp('sla_due_at', { useTz: true });
    t.timestamp('window_starts_at', { useTz: true });
    // First move to triaged, or straight to assigned.
    t.timestamp('triaged_at', { useTz: true });
    t.timestamp('assigned_at', { useTz: true });
    // Who holds the job by its story (the last assigned, reassigned or unassigned event).
    t.uuid('story_vendor_id');
    // First "on the way", start or move to in progress, and who held the job then.
    t.timestamp('arrived_at', { useTz: true });
    t.uuid('arrival_vendor_id');
    // Set while the job is completed (or canceled): the time of that last move.
    t.timestamp('completed_at', { useTz: true });
    t.timestamp('canceled_at', { useTz: true });
    t.integer('reopened_count').notNullable().defaultTo(0);
    t.integer('checklist_items').notNullable().defaultTo(0);
    t.integer('checklist_done').notNullable().defaultTo(0);
    t.primary(['account_id', 'job_id']);
    t.foreign(['account_id', 'job_id']).references(['account_id', 'id']).inTable('jobs').onDelete('cascade');
  });
  await knex.raw(`create index job_milestones_created on job_milestones (account_id, created_at)`);
  await knex.raw(`create index job_milestones_completed on job_milestones (account_id, completed_at) where completed_at is not null`);
  await knex.raw(`create index job_milestones_canceled on job_milestones (account_id, canceled_at) where canceled_at is not null`);
  await knex.raw(`create index job_milestones_arrived on job_milestones (account_id, arrived_at) where arrived_at is not null`);

  await knex.raw(`
    create function job_milestones_open() returns trigger language plpgsql as $$
    begin
      insert into job_milestones (account_id, job_id, created_at, source, priority, service_category, vendor_id, sla_due_at, window_starts_at)
      values (new.account_id, new.id, new.created_at, new.source, new.priority, new.service_category, new.vendor_id, new.sla_due_at, new.window_starts_at);
      return null;
    end $$;
    create trigger jobs_milestones after insert on jobs for each row execute function job_milestones_open();

    create function job_milestones_fields() returns trigger language plpgsql as $$
    begin
      update job_milestones m
         set created_at = new.created_at, source = new.source, priority = new.priority, service_category = new.service_category,
             vendor_id = new.vendor_id, sla_due_at = new.sla_due_at, window_starts_at = new.window_starts_at
       where m.account_id = new.account_id and m.job_id = new.id;
      return null;
    end $$;
    create trigger jobs_milestones_fields after update of created_at, source, priority, service_category, vendor_id, sla_due_at, window_starts_at on jobs
      for each row
      when ((old.created_at, old.source, old.priority, old.service_category, old.vendor_id, old.sla_due_at, old.window_starts_at)
            is distinct from (new.created_at, new.source, new.priority, new.service_category, new.vendor_id, new.sla_due_at, new.window_starts_at))
      execute function job_milestones_fields();

    create function job_milestones_checklist() returns trigger language plpgsql as $$
    begin
      if tg_op in ('UPDATE', 'DELETE') then
        update job_milestones m set checklist_items = m.checklist_items - 1, checklist_done = m.checklist_done - (old.done_at is not null)::int
         where m.account_id = old.account_id and m.job_id = old.job_id;
      end if;
      if tg_op in ('INSERT', 'UPDATE') then
        update job_milestones m set checklist_items = m.checklist_items + 1, checklist_done = m.checklist_done + (new.done_at is not null)::int
         where m.account_id = new.account_id and m.job_id = new.job_id;
      end if;
      return null;
    end $$;
    create trigger job_checklist_items_milestones after insert or delete or update of job_id, done_at on job_checklist_items
      for each row execute function job_milestones_checklist();

    create function job_milestones_follow() returns trigger language plpgsql as $$
    declare
      at timestamptz := job_event_time(new.kind, new.data, new.occurred_at);
      target text := new.data->>'to';
      arrival boolean := new.kind in ('en_route', 'started') or (new.kind = 'status_changed' and new.data->>'to' = 'in_progress');
    begin
      -- SET reads the row as it was: the arrival vendor is taken with the earlier arrival it replaces.
      update job_milestones m set
        triaged_at = case when new.kind = 'status_changed' and target in ('triaged', 'assigned') then least(m.triaged_at, at) else m.triaged_at end,
        assigned_at = case when new.kind = 'assigned' then least(m.assigned_at, at) else m.assigned_at end,
        story_vendor_id = case when new.kind in ('assigned', 'reassigned') then (new.data->>'vendor_id')::uuid
                               when new.kind = 'unassigned' then null else m.story_vendor_id end,
        arrival_vendor_id = case when arrival and (m.arrived_at is null or at < m.arrived_at) then m.story_vendor_id else m.arrival_vendor_id end,
        arrived_at = case when arrival then least(m.arrived_at, at) else m.arrived_at end,
        completed_at = case when new.kind <> 'status_changed' then m.completed_at when target = 'completed' then at end,
        canceled_at = case when new.kind <> 'status_changed' then m.canceled_at when target = 'canceled' then at end,
        reopened_count = m.reopened_count + case when new.kind = 'status_changed' and new.data->>'from' = 'completed' then 1 else 0 end
      where m.account_id = new.account_id and m.job_id = new.job_id;
      return null;
    end $$;
    create trigger job_events_milestones after insert on job_events for each row
      when (new.kind in ('status_changed', 'assigned', 'reassigned', 'unassigned', 'en_route', 'started'))
      execute function job_milestones_follow();
  `);

  // Every job so far, from its story.
  await unscoped(knex, ['jobs', 'job_events', 'job_checklist_items', 'job_milestones'], () =>
    knex.raw(`insert into job_milestones (${milestoneColumns.join(', ')}) ${freshMilestonesSql('true')}`),
  );
  await knex.raw(`alter table job_milestones enable row level security, force row level security`);
  await knex.raw(`create policy tenant_isolation on job_milestones using (account_id = ${currentAccount}) with check (account_id = ${currentAccount})`);

  // The scorecard reads offers by when they were sent.
  await knex.raw(`create index job_offers_sent on job_offers (account_id, created_at)`);
  await knex.raw(`create index job_offers_of_vendor_sent on job_offers (account_id, vendor_id, created_at)`);
  // Missed inbound calls by start; the call back is the next outbound call to the caller's number.
  await knex.raw(`create index calls_missed on calls (account_id, started_at) where direction = 'inbound' and status in ('missed', 'busy', 'failed', 'voicemail')`);
  await knex.raw(`create index calls_outbound_to on calls (account_id, to_e164, started_at) where direction = 'outbound'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists calls_outbound_to');
  await knex.raw('drop index if exists calls_missed');
  await knex.raw('drop index if exists job_offers_of_vendor_sent');
  await knex.raw('drop index if exists job_offers_sent');
  await knex.raw('drop trigger if exists job_events_milestones on job_events');
  await knex.raw('drop trigger if exists job_checklist_items_milestones on job_checklist_items');
  await knex.raw('drop trigger if exists jobs_milestones_fields on jobs');
  await knex.raw('drop trigger if exists jobs_milestones on jobs');
  await knex.schema.dropTableIfExists('job_milestones');
  await knex.raw('drop function if exists job_milestones_follow()');
  await knex.raw('drop function if exists job_milestones_checklist()');
  await knex.raw('drop function if exists job_milestones_fields()');
  await knex.raw('drop function if exists job_milestones_open()');
  await knex.raw('drop function if exists job_event_time(text, jsonb, timestamptz)');
}

// Erasing a person on request must also take their name, e-mail, phone and address out of the
// append-only trails (audit_events, job_events) that copied them. Those tables still refuse every
// delete and every ordinary update; the one exception is a redaction: an update inside a transaction
// that set `onelink.redacting` to 'on' (only the erasure does, extension/privacy/service.ts) which
// changes nothing but the payload columns. The erasure's own audit event counts what it redacted.
import type { Knex } from 'knex';

const refuse = (table: string) => `raise exception '${table} is append-only: % refused', tg_op using errcode = 'insufficient_privilege';`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create or replace function audit_events_refuse_change() returns trigger language plpgsql as $$
    begin
      if tg_op = 'UPDATE' and current_setting('onelink.redacting', true) = 'on'
         and (to_jsonb(new) - 'before' - 'after') = (to_jsonb(old) - 'before' - 'after') then
        return new;
      end if;
      ${refuse('audit_events')}
    end $$;
    create or replace function job_events_refuse_change() returns trigger language plpgsql as $$
    begin
      if tg_op = 'UPDATE' and current_setting('onelink.redacting', true) = 'on'
         and (to_jsonb(new) - 'data') = (to_jsonb(old) - 'data') then
        return new;
      end if;
      ${refuse('job_events')}
    end $$;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    create or replace function audit_events_refuse_change() returns trigger language plpgsql as $$
    begin
      ${refuse('audit_events')}
    end $$;
    create or replace function job_events_refuse_change() returns trigger language plpgsql as $$
    begin
      ${refuse('job_events')}
    end $$;
  `);
}

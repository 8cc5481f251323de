// Vendor users and password-less sign-in.
//
//   portal_users.vendor_role   'owner' (runs the vendor's team) or 'technician'; null for clients.
//                              Vendor users are found by e-mail or phone at sign-in, so each is
//                              unique among the account's vendor users.
//   magic_links                also carries the 6-digit code sent with the link (sealed, never in
//                              clear), the wrong attempts made against it and the channel used.
//   sessions                   renew_hours: a session pushed forward on use (the vendor portal's
//                              30 days on that device); user_agent and ip name the device in the
//                              list of sessions a person can revoke.
// Existing vendor users (bound directly before invitations existed) become owners.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`alter table portal_users add column vendor_role text`);
  // Forced row security binds the owner too: this one statement spans every account.
  await knex.raw(`alter table portal_users no force row level security`);
  await knex.raw(`update portal_users set vendor_role = 'owner' where kind = 'vendor'`);
  await knex.raw(`alter table portal_users force row level security`);
  await knex.raw(`alter table portal_users add constraint portal_users_vendor_role check (
      (kind = 'vendor' and vendor_role in ('owner', 'technician')) or (kind = 'client' and vendor_role is null))`);
  await knex.raw(`alter table portal_users add constraint portal_users_vendor_fk
      foreign key (account_id, vendor_id) references vendors (account_id, id) on delete cascade`);
  await knex.raw(`create index portal_users_by_vendor on portal_users (account_id, vendor_id, created_at) where kind = 'vendor'`);
  await knex.raw(`create unique index portal_users_vendor_email on portal_users (account_id, email) where kind = 'vendor' and email is not null`);
  await knex.raw(`create unique index portal_users_vendor_phone on portal_users (account_id, phone) where kind = 'vendor' and phone is not null`);

  await knex.raw(`alter table magic_links add column code_sealed text`);
  await knex.raw(`alter table magic_links add column attempts integer not null default 0`);
  await knex.raw(`alter table magic_links add column channel text`);
  await knex.raw(`alter table magic_links add column requested_ip text`);
  await knex.raw(`alter table magic_links add constraint magic_links_channel check (channel in ('email', 'sms'))`);
  await knex.raw(`alter table magic_links add constraint magic_links_attempts check (attempts >= 0)`);

  await knex.raw(`alter table sessions add column renew_hours integer`);
  await knex.raw(`alter table sessions add column user_agent text`);
  await knex.raw(`alter table sessions add column ip text`);
  await knex.raw(`alter table sessions add constraint sessions_renew_hours check (renew_hours between 1 and 8760)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`alter table sessions drop constraint sessions_renew_hours`);
  await knex.raw(`alter table sessions drop column ip, drop column user_agent, drop column renew_hours`);
  await knex.raw(`alter table magic_links drop constraint magic_links_attempts, drop constraint magic_links_channel`);
  await knex.raw(`alter table magic_links drop column requested_ip, drop column channel, drop column attempts, drop column code_sealed`);
  await knex.raw(`drop index portal_users_vendor_phone`);
  await knex.raw(`drop index portal_users_vendor_email`);
  await knex.raw(`drop index portal_users_by_vendor`);
  await knex.raw(`alter table portal_users drop constraint portal_users_vendor_fk, drop constraint portal_users_vendor_role`);
  await knex.raw(`alter table portal_users drop column vendor_role`);
}

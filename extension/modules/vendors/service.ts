// Vendors: who can do which work, where, when, and whether their papers are in order.
// Compliance is derived from their approved documents' expiry dates, never stored, so it cannot go
// stale. Of each kind of document (insurance, licence, …) the one that runs longest counts, so an
// approved renewal replaces the old paper; documents waiting for review or rejected count for nothing:
//   expired   – a kind's document has expired
//   expiring  – a kind's document expires within the warning window (30 days)
//   missing   – no approved document on file
//   compliant – otherwise
// Assignment treats expired and missing alike: possible only with an explicit override.
// Staff may lock a vendor's hours (and time off), area or categories: the vendor's own people then
// cannot change them from the portal (403 locked_by_dispatch); staff still can.
import type { Knex } from 'knex';
import { sensitiveFieldKeys, validateCustomFields } from '../../capabilities/field-packs.ts';
import type { RequestContext } from '../../context.ts';
import { read, write } from '../../db/tenant.ts';
import { ConflictError, ForbiddenByRuleError, InvalidFieldsError, NotFoundError } from '../../errors.ts';
import { paginate } from '../../http/pagination.ts';

export const complianceWarningDays = 30;
export type ComplianceState = 'compliant' | 'expiring' | 'expired' | 'missing';
export const vendorRelations = ['preferred', 'approved', 'blocked'] as const;
export type VendorRelation = (typeof vendorRelations)[number];
/** What staff can lock against the vendor's own edits: weekly hours and time off, service area, categories. */
export const lockableFields = ['availability', 'area', 'categories'] as const;
export type LockableField = (typeof lockableFields)[number];

export const vendorColumns = [
  'id', 'name', 'chatwoot_contact_id', 'categories', 'postal_codes', 'base_lat', 'base_lng', 'radius_km', 'time_zone', 'rate_summary',
  'active', 'custom_fields', 'locked_fields', 'version', 'created_at', 'updated_at',
] as const;

export interface VendorRow {
  id: string;
  name: string;
  categories: string[];
  postal_codes: string[];
  base_lat: number | null;
  base_lng: number | null;
  radius_km: number | null;
  time_zone: string;
  active: boolean;
  custom_fields: Record<string, unknown>;
  locked_fields: LockableField[];
  version: number;
  [key: string]: unknown;
}

/**
 * SQL for a vendor's compliance state; `v` is the vendors row. Approved documents only; per kind
 * (as people type it: trimmed, case-folded), the longest-running one (no expiry date: never expires).
 */
export const complianceSql = `(
  select case
    when count(*) = 0 then 'missing'
    when bool_or(k.expires_on < current_date) then 'expired'
    when bool_or(k.expires_on < current_date + ${complianceWarningDays}) then 'expiring'
    else 'compliant' end
  from (
    select case when bool_or(d.expires_on is null) then null else max(d.expires_on) end as expires_on
    from vendor_documents d
    where d.account_id = v.account_id and d.vendor_id = v.id and d.deleted_at is null and d.status = 'approved'
    group by lower(btrim(d.kind))) k)`;

export interface VendorInput {
  name?: string;
  chatwoot_contact_id?: number | null;
  categories?: string[];
  postal_codes?: string[];
  base_lat?: number | null;
  base_lng?: number | null;
  radius_km?: number | null;
  time_zone?: string;
  rate_summary?: string | null;
  active?: boolean;
  custom_fields?: Record<string, unknown>;
}

/** Categories and postal codes are compared as written by people: trimmed, case-folded. */
const normaliseList = (values: string[] | undefined) => values && [...new Set(values.map((v) => v.trim().toLowerCase()).filter(Boolean))];
export const normaliseCategory = (value: string | null | undefined) => (value ? value.trim().toLowerCase() : value);
export const normalisePostalCode = (value: string | null | undefined) => (value ? value.replace(/\s+/g, '').toLowerCase() : value);

function checkArea(input: Pick<VendorInput, 'base_lat' | 'base_lng' | 'radius_km'>) {
  if ((input.base_lat == null) !== (input.base_lng == null)) {
    throw new InvalidFieldsError('Give both coordinates or neither', [{ field: 'base_lng', message: 'base_lat and base_lng go together', code: 'incomplete_location' }]);
  }
  if (input.radius_km != null && input.base_lat == null) {
    throw new InvalidFieldsError('A radius needs a centre', [{ field: 'radius_km', message: 'Set base_lat and base_lng for a radius', code: 'radius_without_centre' }]);
  }
}

async function loadVendor(trx: Knex.Transaction, ctx: RequestContext, vendorId: string, forUpdate = false): Promise<VendorRow> {
  const q = trx('vendors as v').where({ 'v.account_id': ctx.accountId, 'v.id': vendorId }).whereNull('v.deleted_at');
  // A vendor's portal user sees only their own record.
  if (ctx.vendorId && ctx.vendorId !== vendorId) throw new NotFoundError('Vendor');
  if (forUpdate) q.forUpdate();
  const row = await q.first(...vendorColumns.map((c) => `v.${c}`), trx.raw(`${complianceSql} as compliance`));
  if (!row) throw new NotFoundError('Vendor');
  return row as VendorRow;
}

/** `loadVendor` for other vendor modules (documents): the caller's own vendor only, when the caller is a vendor's user. */
export const loadVendorFor = loadVendor;

/** The vendor's own people may not change what staff locked; staff always may. */
function refuseIfLocked(ctx: RequestContext, vendor: VendorRow, field: LockableField) {
  if (!ctx.vendorId || !vendor.locked_fields.includes(field)) return;
  const what = { availability: 'your working hours and time off', area: 'your service area', categories: 'your service categories' }[field];
  throw new ForbiddenByRuleError('locked_by_dispatch', `Dispatch has locked ${what}; ask them to make the change`);
}

export async function createVendor(ctx: RequestContext, input: VendorInput & { name: string }) {
  checkArea(input);
  const customFields = validateCustomFields(ctx, 'vendor', input.custom_fields ?? {});
  return write(ctx, async (trx, audit) => {
    const [row] = await trx('vendors')
      .insert({
        ...input,
        account_id: ctx.accountId,
        categories: normaliseList(input.categories) ?? [],
        postal_codes: (input.postal_codes ?? []).map((p) => normalisePostalCode(p)!),
        custom_fields: customFields,
      })
      .returning('id');
    const vendor = await loadVendor(trx, ctx, row.id);
    await audit({ action: 'vendor.created', resourceType: 'vendor', resourceId: vendor.id, after: { ...vendor }, sensitiveKeys: sensitiveFieldKeys(ctx, 'vendor') });
    return vendor;
  });
}

export async function getVendor(ctx: RequestContext, vendorId: string) {
  return read(ctx, async (trx) => {
    const vendor = await loadVendor(trx, ctx, vendorId);
    const availability = await trx('vendor_availability').where({ account_id: ctx.accountId, vendor_id: vendorId }).orderBy(['weekday', 'starts']).select('weekday', 'starts', 'ends');
    const timeOff = await trx('vendor_time_off').where({ account_id: ctx.accountId, vendor_id: vendorId }).where('ends_at', '>', trx.fn.now()).orderBy('starts_at').select('id', 'starts_at', 'ends_at', 'reason');
    const documents = await trx('vendor_documents')
      .where({ account_id: ctx.accountId, vendor_id: vendorId })
      .whereNull('deleted_at')
      .orderBy('expires_on')
      .select('id', 'kind', 'reference', 'expires_on', 'status', 'rejection_reason', 'filename', 'content_type', 'size_bytes', 'reviewed_at', 'created_at');
    const clients = ctx.vendorId ? [] : await trx('vendor_client_links').where({ account_id: ctx.accountId, vendor_id: vendorId }).orderBy('chatwoot_contact_id').select('chatwoot_contact_id', 'relation', 'note');
    return { ...vendor, availability, time_off: timeOff, documents, ...(ctx.vendorId ? {} : { client_links: clients }) };
  });
}

export async function updateVendor(ctx: RequestContext, vendorId: string, patch: VendorInput & { version: number }) {
  return write(ctx, async (trx, audit) => {
    const before = await loadVendor(trx, ctx, vendorId, true);
    if (patch.version !== before.version) throw new ConflictError('stale_version', 'This vendor changed since you loaded it; here is its current state', { current: before });
    checkArea({ base_lat: before.base_lat, base_lng: before.base_lng, radius_km: before.radius_km, ...patch });
    const { version: _v, custom_fields: customFields, ...fields } = patch;
    const merged = customFields ? { ...before.custom_fields, ...validateCustomFields(ctx, 'vendor', customFields, { partial: true }) } : undefined;
    await trx('vendors')
      .where({ account_id: ctx.accountId, id: vendorId })
      .update({
        ...fields,
        ...(fields.categories ? { categories: normaliseList(fields.categories) } : {}),
        ...(fields.postal_codes ? { postal_codes: fields.postal_codes.map((p) => normalisePostalCode(p)!) } : {}),
        ...(merged ? { custom_fields: merged } : {}),
        version: before.version + 1,
        updated_at: trx.fn.now(),
      });
    const after = await loadVendor(trx, ctx, vendorId);
    await audit({ action: 'vendor.updated', resourceType: 'vendor', resourceId: vendorId, before: { ...before }, after: { ...after }, sensitiveKeys: sensitiveFieldKeys(ctx, 'vendor') });
    return after;
  });
}

export interface VendorFilters { category?: string; active?: boolean; compliance?: ComplianceState; q?: string }

export async function listVendors(ctx: RequestContext, filters: VendorFilters, page: { limit: number; cursor?: string }) {
  return read(ctx, async (trx) => {
    const q = trx('vendors as v').where('v.account_id', ctx.accountId).whereNull('v.deleted_at');
    if (ctx.vendorId) q.where('v.id', ctx.vendorId);
    if (filters.category) q.whereRaw('v.categories @> array[?]::text[]', [normaliseCategory(filters.category)!]);
    if (filters.active !== undefined) q.where('v.active', filters.active);
    if (filters.compliance) q.whereRaw(`${complianceSql} = ?`, [filters.compliance]);
    if (filters.q) q.whereILike('v.name', `%${filters.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    q.select(...vendorColumns.map((c) => `v.${c}`), trx.raw(`${complianceSql} as compliance`));
    return paginate<VendorRow>(q, { keys: { 'v.name': 'text', 'v.id': 'uuid' }, limit: page.limit, cursor: page.cursor });
  });
}

/** Replaces the vendor's weekly hours (times in the vendor's time zone, ISO weekday 1 = Monday). */
export async function setAvailability(ctx: RequestContext, vendorId: string, slots: Array<{ weekday: number; starts: string; ends: string }>) {
  const issues = slots.flatMap((slot, i) => (slot.starts < slot.ends ? [] : [{ field: `slots.${i}.ends`, message: 'Must be after starts', code: 'invalid_slot' }]));
  if (issues.length) throw new InvalidFieldsError('Some hours end before they start', issues);
  return write(ctx, async (trx, audit) => {
    refuseIfLocked(ctx, await loadVendor(trx, ctx, vendorId, true), 'availability');
    const before = await trx('vendor_availability').where({ account_id: ctx.accountId, vendor_id: vendorId }).select('weekday', 'starts', 'ends');
    await trx('vendor_availability').where({ account_id: ctx.accountId, vendor_id: vendorId }).delete();
    if (slots.length) {
      await trx('vendor_availability')
        .insert(slots.map((s) => ({ account_id: ctx.accountId, vendor_id: vendorId, ...s })))
        .onConflict(['account_id', 'vendor_id', 'weekday', 'starts'])
        .merge();
    }
    await audit({ action: 'vendor.availability_set', resourceType: 'vendor', resourceId: vendorId, before: { slots: before }, after: { slots } });
    return { vendor_id: vendorId, slots };
  });
}

export async function addTimeOff(ctx: RequestContext, vendorId: string, input: { starts_at: Date; ends_at: Date; reason?: string | null }) {
  if (input.starts_at >= input.ends_at) throw new InvalidFieldsError('Time off ends before it starts', [{ field: 'ends_at', message: 'Must be after starts_at', code: 'invalid_range' }]);
  return write(ctx, async (trx, audit) => {
    refuseIfLocked(ctx, await loadVendor(trx, ctx, vendorId, true), 'availability');
    const [row] = await trx('vendor_time_off').insert({ account_id: ctx.accountId, vendor_id: vendorId, ...input }).returning(['id', 'starts_at', 'ends_at', 'reason']);
    await audit({ action: 'vendor.time_off_added', resourceType: 'vendor', resourceId: vendorId, after: { ...row } });
    return row;
  });
}

export async function removeTimeOff(ctx: RequestContext, vendorId: string, timeOffId: string) {
  return write(ctx, async (trx, audit) => {
    refuseIfLocked(ctx, await loadVendor(trx, ctx, vendorId, true), 'availability');
    const [row] = await trx('vendor_time_off').where({ account_id: ctx.accountId, vendor_id: vendorId, id: timeOffId }).delete().returning(['id', 'starts_at', 'ends_at']);
    if (!row) throw new NotFoundError('Time off');
    await audit({ action: 'vendor.time_off_removed', resourceType: 'vendor', resourceId: vendorId, before: { ...row } });
    return { id: timeOffId, deleted: true };
  });
}

export async function addDocument(ctx: RequestContext, vendorId: string, input: { kind: string; reference?: string | null; expires_on?: string | null }) {
  return write(ctx, async (trx, audit) => {
    await loadVendor(trx, ctx, vendorId, true);
    // Staff record what they have seen themselves: approved as they enter it.
    const by = { type: ctx.actor.type, id: ctx.actor.id };
    const [row] = await trx('vendor_documents')
      .insert({
        account_id: ctx.accountId,
        vendor_id: vendorId,
        ...input,
        status: 'approved',
        submitted_by_type: by.type,
        submitted_by_id: by.id,
        reviewed_by_type: by.type,
        reviewed_by_id: by.id,
        reviewed_at: trx.fn.now(),
      })
      .returning(['id', 'kind', 'reference', 'expires_on', 'status']);
    await audit({ action: 'vendor.document_added', resourceType: 'vendor', resourceId: vendorId, after: { ...row } });
    return row;
  });
}

export async function removeDocument(ctx: RequestContext, vendorId: string, documentId: string) {
  return write(ctx, async (trx, audit) => {
    await loadVendor(trx, ctx, vendorId, true);
    const [row] = await trx('vendor_documents')
      .where({ account_id: ctx.accountId, vendor_id: vendorId, id: documentId })
      .whereNull('deleted_at')
      .update({ deleted_at: trx.fn.now(), updated_at: trx.fn.now() })
      .returning(['id', 'kind', 'expires_on']);
    if (!row) throw new NotFoundError('Document');
    await audit({ action: 'vendor.document_removed', resourceType: 'vendor', resourceId: vendorId, before: { ...row } });
    return { id: documentId, deleted: true };
  });
}

/** Sets (or with `relation: null` removes) how a client stands with a vendor: preferred, approved, blocked. */
export async function setClientLink(ctx: RequestContext, vendorId: string, contactId: number, input: { relation: VendorRelation | null; note?: string | null }) {
  return write(ctx, async (trx, audit) => {
    await loadVendor(trx, ctx, vendorId, true);
    const key = { account_id: ctx.accountId, vendor_id: vendorId, chatwoot_contact_id: contactId };
    const before = await trx('vendor_client_links').where(key).first('relation', 'note');
    if (input.relation === null) {
      if (!before) {
        audit.nothingChanged();
        return { vendor_id: vendorId, chatwoot_contact_id: contactId, relation: null };
      }
      await trx('vendor_client_links').where(key).delete();
    } else {
      await trx('vendor_client_links')
        .insert({ ...key, relation: input.relation, note: input.note ?? null })
        .onConflict(['account_id', 'vendor_id', 'chatwoot_contact_id'])
        .merge({ relation: input.relation, note: input.note ?? null, updated_at: trx.fn.now() });
    }
    await audit({ action: 'vendor.client_link_set', resourceType: 'vendor', resourceId: vendorId, before: before ?? null, after: { chatwoot_contact_id: contactId, relation: input.relation } });
    return { vendor_id: vendorId, chatwoot_contact_id: contactId, relation: input.relation, note: input.note ?? null };
  });
}

/** Sets which of the vendor's hours, area and categories its own people may not change (fields left out stay as they are). */
export async function setVendorLocks(ctx: RequestContext, vendorId: string, locks: Partial<Record<LockableField, boolean>>) {
  return write(ctx, async (trx, audit) => {
    const before = await loadVendor(trx, ctx, vendorId, true);
    const next = lockableFields.filter((f) => locks[f] ?? before.locked_fields.includes(f));
    if (next.length === before.locked_fields.length && next.every((f) => before.locked_fields.includes(f))) {
      audit.nothingChanged();
      return locksOf(before);
    }
    await trx('vendors').where({ account_id: ctx.accountId, id: vendorId }).update({ locked_fields: next, version: before.version + 1, updated_at: trx.fn.now() });
    const after = await loadVendor(trx, ctx, vendorId);
    await audit({ action: 'vendor.locks_set', resourceType: 'vendor', resourceId: vendorId, before: { locked_fields: before.locked_fields }, after: { locked_fields: next } });
    return locksOf(after);
  });
}

export const locksOf = (vendor: Pick<VendorRow, 'locked_fields'>) =>
  Object.fromEntries(lockableFields.map((f) => [f, vendor.locked_fields.includes(f)])) as Record<LockableField, boolean>;

/**
 * The vendor's service area as its own people set it (postal codes and a radius around the centre
 * staff set); refused when staff locked the area.
 */
export async function setVendorArea(ctx: RequestContext, vendorId: string, input: { postal_codes: string[]; radius_km: number | null }) {
  return write(ctx, async (trx, audit) => {
    const before = await loadVendor(trx, ctx, vendorId, true);
    refuseIfLocked(ctx, before, 'area');
    checkArea({ base_lat: before.base_lat, base_lng: before.base_lng, radius_km: input.radius_km });
    const postalCodes = [...new Set(input.postal_codes.map((p) => normalisePostalCode(p)!).filter(Boolean))];
    await trx('vendors').where({ account_id: ctx.accountId, id: vendorId }).update({ postal_codes: postalCodes, radius_km: input.radius_km, version: before.version + 1, updated_at: trx.fn.now() });
    const after = await loadVendor(trx, ctx, vendorId);
    await audit({ action: 'vendor.updated', resourceType: 'vendor', resourceId: vendorId, before: { postal_codes: before.postal_codes, radius_km: before.radius_km }, after: { postal_codes: postalCodes, radius_km: input.radius_km } });
    return after;
  });
}

/** The vendor's service categories as its own people set them; refused when staff locked them. */
export async function setVendorCategories(ctx: RequestContext, vendorId: string, categories: string[]) {
  return write(ctx, async (trx, audit) => {
    const before = await loadVendor(trx, ctx, vendorId, true);
    refuseIfLocked(ctx, before, 'categories');
    const next = normaliseList(categories) ?? [];
    await trx('vendors').where({ account_id: ctx.accountId, id: vendorId }).update({ categories: next, version: before.version + 1, updated_at: trx.fn.now() });
    const after = await loadVendor(trx, ctx, vendorId);
    await audit({ action: 'vendor.updated', resourceType: 'vendor', resourceId: vendorId, before: { categories: before.categories }, after: { categories: next } });
    return after;
  });
}

// Fields an account adds for itself ("Budget band" on deals, "Access notes" on jobs), next to the
// ones its field packs bring. A field's key and type never change once created (stored values
// depend on them); label, choices, required and sensitive may; archiving stops new values.
import { randomUUID } from 'node:crypto';
import type { AccountRow } from '../accounts/service.ts';
import type { RequestContext } from '../context.ts';
import { write } from '../db/tenant.ts';
import { ConflictError, NotFoundError, invalidField } from '../errors.ts';
import { fieldEntities, fieldPacks, type AccountField, type FieldDefinition, type FieldEntity } from './field-packs.ts';
import type { Capability } from './profiles.ts';

export const maxAccountFields = 50;

export interface NewAccountField {
  entity: FieldEntity;
  key: string;
  label: string;
  type: FieldDefinition['type'];
  options?: string[];
  required?: boolean;
  sensitive?: boolean;
}
export type AccountFieldPatch = Partial<Pick<AccountField, 'label' | 'options' | 'required' | 'sensitive' | 'archived'>>;

/** Every pack with its fields (on or off for this account) and the account's own fields. */
export function listFieldSetup(ctx: RequestContext) {
  // The account's own fields came with the account when the request was authenticated.
  const packs = Object.entries(fieldPacks).map(([flag, pack]) => ({
    flag,
    enabled: ctx.capabilities.has(flag as Capability),
    fields: Object.fromEntries(fieldEntities.map((entity) => [entity, pack?.[entity] ?? []])),
  }));
  return { packs, custom: ctx.accountFields ?? [] };
}

const packKeys = (entity: FieldEntity) => new Set(Object.values(fieldPacks).flatMap((pack) => (pack?.[entity] ?? []).map((f) => f.key)));

function checkOptions(type: FieldDefinition['type'], options: readonly string[] | undefined) {
  if (type !== 'choice') {
    if (options?.length) throw invalidField('options', 'Leave choices out for this type', 'unexpected', 'Only choice fields have choices');
    return;
  }
  if (!options?.length) throw invalidField('options', 'Give at least one choice', 'required', 'A choice field needs its choices');
  if (new Set(options).size !== options.length) throw invalidField('options', 'A choice is listed twice', 'duplicate', 'Choices must differ');
}

/** Applies `change` to the account's list under a row lock, audited, and returns the changed field. */
async function changeFields(ctx: RequestContext, change: (fields: AccountField[]) => { fields: AccountField[]; changed: AccountField; before?: AccountField }, action: string) {
  return write(ctx, async (trx, audit) => {
    const row = await trx<AccountRow>('accounts').where({ account_id: ctx.accountId }).forUpdate().first('field_definitions');
    const { fields, changed, before } = change(row?.field_definitions ?? []);
    await trx('accounts')
      .where({ account_id: ctx.accountId })
      .update({ field_definitions: JSON.stringify(fields), updated_at: trx.fn.now() });
    await audit({ action, resourceType: 'account_field', resourceId: changed.id, before: before ? { ...before } : undefined, after: { ...changed } });
    return changed;
  });
}

export async function createAccountField(ctx: RequestContext, input: NewAccountField) {
  checkOptions(input.type, input.options);
  return changeFields(
    ctx,
    (fields) => {
      if (packKeys(input.entity).has(input.key)) throw new ConflictError('field_key_taken', `A field pack already defines “${input.key}” for a ${input.entity}; choose another key`);
      if (fields.some((f) => f.entity === input.entity && f.key === input.key)) throw new ConflictError('field_key_taken', `This account already has a ${input.entity} field “${input.key}” (archived ones keep their key)`);
      if (fields.length >= maxAccountFields) throw new ConflictError('too_many_fields', `An account has at most ${maxAccountFields} fields of its own`);
      const field: AccountField = {
        id: randomUUID(),
        entity: input.entity,
        key: input.key,
        label: input.label,
        type: input.type,
        ...(input.type === 'choice' ? { options: input.options } : {}),
        required: input.required ?? false,
        sensitive: input.sensitive ?? false,
        archived: false,
      };
      return { fields: [...fields, field], changed: field };
    },
    'account_field.created',
  );
}

export async function updateAccountField(ctx: RequestContext, fieldId: string, patch: AccountFieldPatch) {
  return changeFields(
    ctx,
    (fields) => {
      const before = fields.find((f) => f.id === fieldId);
      if (!before) throw new NotFoundError('Field');
      if (patch.options !== undefined) checkOptions(before.type, patch.options);
      const changed: AccountField = { ...before, ...patch };
      return { fields: fields.map((f) => (f.id === fieldId ? changed : f)), changed, before };
    },
    'account_field.updated',
  );
}

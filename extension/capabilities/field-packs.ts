// Typed custom fields per domain. A pack is switched on by its capability flag (fields.*); an
// account may add fields of its own (see account-fields.ts). Values are validated here on the
// server, and sensitive ones never leave for Chatwoot or the logs.
import { z } from 'zod';
import { invalid, type FieldIssue } from '../http/errors.ts';
import type { Capability } from './profiles.ts';

export const fieldEntities = ['deal', 'job', 'vendor'] as const;
export type FieldEntity = (typeof fieldEntities)[number];

export interface FieldDefinition {
  key: string;
  label: string;
  type: 'text' | 'number' | 'date' | 'boolean' | 'choice';
  options?: readonly string[];
  required?: boolean;
  maxLength?: number;
  /** Never written back to Chatwoot, never logged, masked in the audit trail. */
  sensitive?: boolean;
}

type Pack = Partial<Record<FieldEntity, readonly FieldDefinition[]>>;

/** A field an account defined itself; archived ones take no new values (stored ones stay). */
export interface AccountField extends FieldDefinition {
  id: string;
  entity: FieldEntity;
  archived: boolean;
}

/** Whose fields: the account's capabilities (which packs are on) and its own definitions. */
export interface FieldScope {
  capabilities: ReadonlySet<Capability>;
  accountFields?: readonly AccountField[];
}

const trades = ['general', 'electrical', 'plumbing', 'hvac', 'roofing', 'carpentry', 'painting', 'landscaping'] as const;

export const fieldPacks: Partial<Record<Capability, Pack>> = {
  'fields.construction': {
    deal: [
      { key: 'site_address', label: 'Site address', type: 'text', maxLength: 500 },
      { key: 'trade', label: 'Trade', type: 'choice', options: trades },
      { key: 'estimated_start', label: 'Estimated start', type: 'date' },
    ],
    job: [
      { key: 'site_address', label: 'Site address', type: 'text', maxLength: 500 },
      { key: 'permit_number', label: 'Permit number', type: 'text', maxLength: 100 },
      { key: 'trade', label: 'Trade', type: 'choice', options: trades },
      { key: 'gate_code', label: 'Gate or lockbox code', type: 'text', maxLength: 50, sensitive: true },
    ],
    vendor: [
      { key: 'trade', label: 'Trade', type: 'choice', options: trades },
      { key: 'licence_number', label: 'Licence number', type: 'text', maxLength: 100 },
      { key: 'crew_size', label: 'Crew size', type: 'number' },
    ],
  },
  'fields.healthcare': {
    deal: [
      { key: 'care_type', label: 'Care type', type: 'choice', options: ['home_care', 'physiotherapy', 'nursing', 'counselling', 'other'] },
      { key: 'referral_source', label: 'Referral source', type: 'text', maxLength: 200 },
      { key: 'preferred_clinician', label: 'Preferred clinician', type: 'text', maxLength: 200 },
    ],
    job: [
      { key: 'care_type', label: 'Care type', type: 'choice', options: ['home_care', 'physiotherapy', 'nursing', 'counselling', 'other'] },
      { key: 'preferred_clinician', label: 'Preferred clinician', type: 'text', maxLength: 200 },
      { key: 'clinical_notes', label: 'Clinical notes', type: 'text', maxLength: 4000, sensitive: true },
      { key: 'date_of_birth', label: 'Date of birth', type: 'date', sensitive: true },
    ],
    vendor: [
      { key: 'registration_number', label: 'Professional registration', type: 'text', maxLength: 100 },
      { key: 'disciplines', label: 'Disciplines', type: 'text', maxLength: 300 },
    ],
  },
};

/** The fields an account has on an entity: those of its packs that are on, then its own. */
export function activeFields(scope: FieldScope, entity: FieldEntity): FieldDefinition[] {
  const own = (scope.accountFields ?? []).filter((f) => f.entity === entity && !f.archived).map(({ id: _id, entity: _entity, archived: _archived, ...field }) => field);
  return Object.entries(fieldPacks)
    .filter(([flag]) => scope.capabilities.has(flag as Capability))
    .flatMap(([, pack]) => pack?.[entity] ?? [])
    .concat(own)
    // Two packs may define the same key; the first one wins.
    .filter((field, index, all) => all.findIndex((f) => f.key === field.key) === index);
}

function schemaFor(field: FieldDefinition): z.ZodType {
  switch (field.type) {
    case 'text':
      return z.string().trim().max(field.maxLength ?? 1000);
    case 'number':
      return z.number().finite();
    case 'date':
      return z.iso.date();
    case 'boolean':
      return z.boolean();
    case 'choice':
      return z.enum(field.options as [string, ...string[]]);
  }
}

/**
 * Validates custom field values against the account's active fields: unknown keys, wrong
 * types and missing required fields are 422s naming `custom_fields.<key>`. `null` clears a field.
 */
export function validateCustomFields(
  scope: FieldScope,
  entity: FieldEntity,
  input: Record<string, unknown>,
  { partial = false }: { partial?: boolean } = {},
): Record<string, unknown> {
  const fields = activeFields(scope, entity);
  const issues: FieldIssue[] = [];
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    const field = fields.find((f) => f.key === key);
    if (!field) {
      issues.push({ path: `custom_fields.${key}`, message: `Unknown field for a ${entity} in this account`, code: 'unknown_field' });
      continue;
    }
    if (value === null) {
      if (field.required) issues.push({ path: `custom_fields.${key}`, message: 'This field is required', code: 'required' });
      else values[key] = null;
      continue;
    }
    const parsed = schemaFor(field).safeParse(value);
    if (parsed.success) values[key] = parsed.data;
    else issues.push({ path: `custom_fields.${key}`, message: parsed.error.issues[0]!.message, code: parsed.error.issues[0]!.code });
  }
  if (!partial) {
    for (const field of fields) {
      if (field.required && !(field.key in input)) {
        issues.push({ path: `custom_fields.${field.key}`, message: 'This field is required', code: 'required' });
      }
    }
  }
  if (issues.length) throw invalid('Some custom fields are not valid', issues);
  return values;
}

export function sensitiveFieldKeys(scope: FieldScope, entity: FieldEntity): string[] {
  return activeFields(scope, entity)
    .filter((f) => f.sensitive)
    .map((f) => f.key);
}

/** Custom fields safe to show outside Onelink (Chatwoot attributes, notes): sensitive ones removed. */
export function withoutSensitiveFields(
  scope: FieldScope,
  entity: FieldEntity,
  values: Record<string, unknown>,
): Record<string, unknown> {
  const hiddenKeys = new Set(sensitiveFieldKeys(scope, entity));
  return Object.fromEntries(Object.entries(values).filter(([key]) => !hiddenKeys.has(key)));
}

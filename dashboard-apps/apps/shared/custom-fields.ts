// Form values of custom fields → the API's custom_fields: blanks left out, numbers as numbers.
import type { FieldDefinition } from '../../stores/session.ts';

export function customFieldValues(fields: FieldDefinition[], values: Record<string, string | boolean>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    const value = values[field.key];
    if (value === undefined || value === '') continue;
    if (field.type === 'boolean') out[field.key] = value === true;
    else if (field.type === 'number') out[field.key] = Number(value);
    else out[field.key] = typeof value === 'string' ? value.trim() : value;
  }
  return out;
}

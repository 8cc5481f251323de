// Checklist templates: the steps a job of a service category goes through (a template without
// a category applies to every job that has no template of its own). Jobs copy the items when
// they are created, so editing a template never rewrites the checklist of an existing job. A template
// may also ask for photos (tagged, e.g. "after"): jobs copy those too, and cannot be finished without them.
import type { RequestContext } from '../../context.ts';
import { read, write } from '../../db/tenant.ts';
import { NotFoundError } from '../../errors.ts';
import type { RequiredPhoto } from './records.ts';

export interface TemplateInput {
  name: string;
  service_category?: string | null;
  items: Array<{ label: string; required?: boolean }>;
  required_photos?: RequiredPhoto[];
  active?: boolean;
}

const columns = ['id', 'name', 'service_category', 'items', 'required_photos', 'active', 'created_at', 'updated_at'];

export async function listTemplates(ctx: RequestContext) {
  return read(ctx, (trx) => trx('checklist_templates').where({ account_id: ctx.accountId }).orderBy(['service_category', 'name']).select(columns));
}

export async function createTemplate(ctx: RequestContext, input: TemplateInput) {
  return write(ctx, async (trx, audit) => {
    const [row] = await trx('checklist_templates')
      .insert({
        account_id: ctx.accountId,
        name: input.name,
        service_category: input.service_category ?? null,
        items: JSON.stringify(input.items),
        required_photos: JSON.stringify(input.required_photos ?? []),
        active: input.active ?? true,
      })
      .returning(columns);
    await audit({ action: 'checklist_template.created', resourceType: 'checklist_template', resourceId: row.id, after: { ...row } });
    return row;
  });
}

export async function updateTemplate(ctx: RequestContext, templateId: string, patch: Partial<TemplateInput>) {
  return write(ctx, async (trx, audit) => {
    const before = await trx('checklist_templates').where({ account_id: ctx.accountId, id: templateId }).forUpdate().first(columns);
    if (!before) throw new NotFoundError('Checklist template');
    const [after] = await trx('checklist_templates')
      .where({ account_id: ctx.accountId, id: templateId })
      .update({
        ...patch,
        ...(patch.items ? { items: JSON.stringify(patch.items) } : {}),
        ...(patch.required_photos ? { required_photos: JSON.stringify(patch.required_photos) } : {}),
        updated_at: trx.fn.now(),
      })
      .returning(columns);
    await audit({ action: 'checklist_template.updated', resourceType: 'checklist_template', resourceId: templateId, before: { ...before }, after: { ...after } });
    return after;
  });
}

// The reports' account settings: the time zone and weekly opening hours that "business hours"
// response times count in. Read by anyone who reads reports; changed by admins, audited.
import type { Knex } from 'knex';
import { z } from 'zod';
import type { RequestContext } from '../../context.ts';
import { read, write } from '../../db/tenant.ts';
import { invalidField } from '../../errors.ts';
import { sendData } from '../../http/envelope.ts';
import { defineRoute } from '../../http/registry.ts';

const zones = new Set([...Intl.supportedValuesOf('timeZone'), 'UTC']);
const clock = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'a time of day as HH:MM (24:00 for midnight at the end of the day)')
  .meta({ examples: ['09:00'] });

export const openingInterval = z.object({
  day: z.number().int().min(1).max(7).describe('ISO weekday: 1 = Monday … 7 = Sunday'),
  opens: clock,
  closes: clock.meta({ examples: ['17:00'] }),
});
export type OpeningInterval = z.infer<typeof openingInterval>;

export const reportSettingsBody = z.object({
  time_zone: z
    .string()
    .max(64)
    .refine((v) => zones.has(v), 'an IANA time zone such as Europe/London or America/New_York')
    .meta({ examples: ['Europe/London'] })
    .optional()
    .describe('The zone business hours are in'),
  business_hours: z.array(openingInterval).max(28).optional().describe('Opening intervals per weekday; a day without one is closed'),
});

/** What the settings routes answer. */
export const reportSettings = z.object({
  time_zone: z.string().describe('The zone business hours are in'),
  business_hours: z.array(openingInterval).describe('Opening intervals per weekday, in day order; a day without one is closed'),
});
export type ReportSettings = z.infer<typeof reportSettings>;

const minutes = (t: string) => Number(t.slice(0, 2)) * 60 + Number(t.slice(3, 5));

/** Refuses intervals that close before they open or overlap another of the same day; sorted by day and opening. */
export function checkedHours(hours: OpeningInterval[]): OpeningInterval[] {
  const sorted = [...hours].sort((a, b) => a.day - b.day || minutes(a.opens) - minutes(b.opens));
  sorted.forEach((h, i) => {
    if (minutes(h.closes) <= minutes(h.opens)) throw invalidField(`business_hours.${hours.indexOf(h)}.closes`, 'must be after `opens` on the same day', 'closes_before_opens');
    const previous = sorted[i - 1];
    if (previous && previous.day === h.day && minutes(h.opens) < minutes(previous.closes)) {
      throw invalidField(`business_hours.${hours.indexOf(h)}`, 'overlaps another interval of the same day', 'hours_overlap');
    }
  });
  return sorted;
}

/** The account's settings; an account that set none: UTC and no business hours. */
export async function reportSettingsOf(trx: Knex.Transaction, accountId: number): Promise<ReportSettings> {
  const row = await trx('report_settings').where({ account_id: accountId }).first('time_zone', 'business_hours');
  return { time_zone: row?.time_zone ?? 'UTC', business_hours: (row?.business_hours as OpeningInterval[] | undefined) ?? [] };
}

export async function getReportSettings(ctx: RequestContext) {
  return read(ctx, (trx) => reportSettingsOf(trx, ctx.accountId));
}

export async function updateReportSettings(ctx: RequestContext, input: z.infer<typeof reportSettingsBody>) {
  return write(ctx, async (trx, audit) => {
    const before = await reportSettingsOf(trx, ctx.accountId);
    const after: ReportSettings = {
      time_zone: input.time_zone ?? before.time_zone,
      business_hours: input.business_hours ? checkedHours(input.business_hours) : before.business_hours,
    };
    await trx('report_settings')
      .insert({ account_id: ctx.accountId, time_zone: after.time_zone, business_hours: JSON.stringify(after.business_hours) })
      .onConflict('account_id')
      .merge({ time_zone: after.time_zone, business_hours: JSON.stringify(after.business_hours), updated_at: trx.fn.now() });
    await audit({ action: 'report_settings.updated', resourceType: 'report_settings', resourceId: ctx.accountId, before: { ...before }, after: { ...after } });
    return after;
  });
}

export function reportSettingsRoutes() {
  return [
    defineRoute({
      method: 'get',
      path: '/reports/settings',
      summary: 'The time zone and weekly business hours response times count in when a report asks for business hours',
      tags: ['reports'],
      access: { permission: 'reports:own', capability: null },
      response: reportSettings,
      handler: async ({ ctx, res }) => sendData(res, await getReportSettings(ctx)),
    }),
    defineRoute({
      method: 'put',
      path: '/reports/settings',
      summary: 'Set the reports’ time zone and/or weekly business hours (intervals per ISO weekday; a day without one is closed)',
      tags: ['reports'],
      access: { permission: 'admin:capabilities', capability: null },
      response: reportSettings,
      body: reportSettingsBody.refine((b) => b.time_zone !== undefined || b.business_hours !== undefined, 'Give a time zone, business hours, or both'),
      handler: async ({ ctx, body, res }) => sendData(res, await updateReportSettings(ctx, body)),
    }),
  ];
}

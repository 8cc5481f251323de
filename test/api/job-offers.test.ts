// Job offers: dispatch offers a job to a vendor, who accepts (assigned through the assignment
// engine), declines with a reason, or lets it lapse (the sweep, on a fixed clock); the job goes on to
// the next suggested vendor only when the account wants it. Vendors see and answer only their own
// offers; accounts only their own.
import { beforeAll, describe, expect, it } from 'vitest';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { lapseOffers } from '../../extension/modules/offers/queue.ts';
import { fanOutEvents } from '../../extension/notifications/fanout.ts';
import type { FakeChatwoot } from '../fakes/chatwoot.ts';
import { apiAs } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { createClientPortalSession, createVendorPortalSession, signInAgent, signInDispatcher, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1, 2]);
let t: TestApp;
let chatwoot: FakeChatwoot;
let admin: SignedIn;
let dispatcher: SignedIn;
let asAdmin: ReturnType<typeof apiAs>;
let asAgent: ReturnType<typeof apiAs>;
let asDispatcher: ReturnType<typeof apiAs>;

const minute = 60_000;
const day = 24 * 60 * minute;
const isoDate = (offsetDays: number) => new Date(Date.now() + offsetDays * day).toISOString().slice(0, 10);

interface Vendor { id: string; name: string; portal: ReturnType<typeof apiAs>; portalUserId: string }
interface Offer { id: string; job_id: string; vendor_id: string; status: string; answer_by: string; created_at: string; decline_reason: string | null; [key: string]: unknown }

beforeAll(async () => {
  ({ t, chatwoot } = world);
  admin = await signInAgent(t, chatwoot, 1, 'administrator', 'Ada Admin');
  asAdmin = apiAs(t, admin.token);
  expect((await asAdmin.patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
  const agent = await signInAgent(t, chatwoot, 1, 'agent', 'Alan Agent');
  dispatcher = await signInDispatcher(t, chatwoot, 1, admin);
  asAgent = apiAs(t, agent.token);
  asDispatcher = apiAs(t, dispatcher.token);
});

/** A vendor of account 1 (insured unless told otherwise) with a signed-in portal user. */
async function newVendor(name: string, categories: string[], insured = true): Promise<Vendor> {
  const res = await asDispatcher.post('/vendors', { name, categories });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  if (insured) expect((await asDispatcher.post(`/vendors/${res.body.data.id}/documents`, { kind: 'insurance', expires_on: isoDate(365) })).status).toBe(201);
  const session = await createVendorPortalSession(t, admin.accountId, res.body.data.id);
  return { id: res.body.data.id, name, portal: apiAs(t, session.token), portalUserId: session.portalUserId };
}

async function newJob(fields: Record<string, unknown> = {}) {
  const res = await asAgent.post('/jobs', { summary: 'Leaking radiator valve', priority: 'high', address: '12 Hidden Lane', postal_code: 'AB1 2CD', chatwoot_contact_id: 7001, ...fields });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data as { id: string; reference: string; version: number };
}

async function offer(jobId: string, vendorId: string, extra: Record<string, unknown> = {}): Promise<Offer> {
  const res = await asDispatcher.post(`/jobs/${jobId}/offers`, { vendor_id: vendorId, ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data;
}

const jobOffers = async (jobId: string) => (await asDispatcher.get(`/jobs/${jobId}/offers`)).body.data as Offer[];
const eventKinds = async (jobId: string) => ((await asDispatcher.get(`/jobs/${jobId}`)).body.data.events as Array<{ kind: string }>).map((e) => e.kind);
const rows = (table: string, where: Record<string, unknown>, order = 'id') =>
  withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx(table).where({ account_id: admin.accountId, ...where }).orderBy(order).select());
const audits = async (jobId: string) =>
  (await rows('audit_events', { resource_type: 'job', resource_id: jobId })) as Array<{ action: string; actor_type: string; actor_id: string; after: Record<string, unknown> }>;
const raised = async (jobId: string) => ((await rows('notification_events', { resource_id: jobId })) as Array<{ event: string }>).map((e) => e.event);

describe('offering and accepting', () => {
  it('offers a job, the vendor accepts from the portal, and the job is assigned to them through the assignment engine', async () => {
    const vendor = await newVendor('Pat Plumbing', ['plumbing']);
    const job = await newJob({ service_category: 'plumbing' });
    const made = await offer(job.id, vendor.id);
    expect(made).toMatchObject({ status: 'open', vendor_id: vendor.id, vendor_name: 'Pat Plumbing', offered_by_type: 'user', job: { reference: job.reference, status: 'new' } });
    // The account's default answer time: 15 minutes.
    expect(new Date(made.answer_by).getTime() - new Date(made.created_at).getTime()).toBe(15 * minute);

    // The vendor sees what they need to decide, not the client's address or who offered.
    const mine = (await vendor.portal.get('/offers')).body.data as Offer[];
    expect(mine.map((o) => o.id)).toEqual([made.id]);
    expect(mine[0]!.job).toMatchObject({ reference: job.reference, summary: 'Leaking radiator valve', priority: 'high', postal_code: 'ab12cd' });
    expect(JSON.stringify(mine[0])).not.toContain('Hidden Lane');
    expect(mine[0]).not.toHaveProperty('offered_by_id');
    // Staff see the offers in flight.
    expect(((await asDispatcher.get('/offers')).body.data as Offer[]).map((o) => o.id)).toContain(made.id);

    const accepted = await vendor.portal.post(`/offers/${made.id}/accept`);
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
    expect(accepted.body.data.offer).toMatchObject({ id: made.id, status: 'accepted' });
    expect(accepted.body.data.job).toMatchObject({ id: job.id, status: 'assigned', vendor_id: vendor.id });
    // Now the job is theirs: the vendor sees it like any of their jobs.
    expect((await vendor.portal.get(`/jobs/${job.id}`)).body.data).toMatchObject({ status: 'assigned', address: '12 Hidden Lane' });

    expect(await eventKinds(job.id)).toEqual(['created', 'offered', 'assigned', 'status_changed', 'offer_accepted']);
    const trail = await audits(job.id);
    expect(trail.map((a) => a.action)).toEqual(['job.created', 'job.offered', 'job.assigned', 'job.offer_accepted']);
    const acceptance = trail.find((a) => a.action === 'job.offer_accepted')!;
    expect(acceptance).toMatchObject({ actor_type: 'portal_user', actor_id: vendor.portalUserId, after: { offer_id: made.id, vendor_id: vendor.id, status: 'accepted' } });
    expect(trail.find((a) => a.action === 'job.assigned')!.after).toMatchObject({ vendor_id: vendor.id, offer_id: made.id, status: 'assigned' });
    const history = await rows('job_vendors', { job_id: job.id });
    expect(history).toMatchObject([{ vendor_id: vendor.id, reason: 'offer accepted', unassigned_at: null }]);

    expect(await raised(job.id)).toEqual(expect.arrayContaining(['vendor.job_offered', 'vendor.job_assigned', 'staff.offer_answered']));
    await fanOutEvents(t.db.knex, admin.accountId, { publicUrl: 'http://onelink.test' });
    const told = (await rows('notifications', { resource_id: job.id }, 'event_id')) as Array<{ event: string; recipient_kind: string; recipient_id: string; title: string; body: string; urgent: boolean }>;
    // The vendor's item opens the offer (the job is not theirs to open yet).
    const [offered] = (await rows('notifications', { event: 'vendor.job_offered', resource_id: made.id })) as typeof told;
    expect(offered).toMatchObject({ recipient_kind: 'vendor', recipient_id: vendor.id, title: `Job offer ${job.reference}: Leaking radiator valve`, urgent: true });
    expect(offered!.body).toContain('Answer by');
    expect(offered!.body).not.toContain('Hidden Lane');
    const answered = told.filter((n) => n.event === 'staff.offer_answered');
    expect(answered.map((n) => n.recipient_id).sort()).toEqual([admin.userId, dispatcher.userId].sort());
    expect(answered[0]!.title).toBe(`Pat Plumbing accepted the offer of ${job.reference}`);

    // Answered once: a second acceptance is refused.
    const again = await vendor.portal.post(`/offers/${made.id}/accept`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('offer_accepted');
  });

  it('lets staff accept on the vendor’s behalf, and withdraws an offer at once when its job is assigned by hand', async () => {
    const vendor = await newVendor('Quinn Heating', ['heating']);
    const other = await newVendor('Rae Heating', ['heating']);
    const job = await newJob({ service_category: 'heating' });
    const made = await offer(job.id, vendor.id);
    const accepted = await asDispatcher.post(`/offers/${made.id}/accept`);
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
    expect(accepted.body.data.offer).toMatchObject({ status: 'accepted', answered_by_type: 'user', answered_by_id: dispatcher.userId });

    const second = await newJob({ service_category: 'heating' });
    const pending = await offer(second.id, vendor.id);
    expect((await asDispatcher.post(`/jobs/${second.id}/assignment`, { vendor_id: other.id })).status).toBe(200);
    // The hand assignment ends the offer at once (the portal and the board stop showing it), with a job event saying why.
    expect((await jobOffers(second.id))[0]).toMatchObject({ status: 'withdrawn', answered_by_type: 'user', answered_by_id: dispatcher.userId });
    const story = (await asDispatcher.get(`/jobs/${second.id}`)).body.data.events as Array<{ kind: string; data: { reason?: string } }>;
    expect(story.filter((e) => e.kind === 'offer_withdrawn').map((e) => e.data.reason)).toEqual(['the job was assigned by hand']);
    const late = await vendor.portal.post(`/offers/${pending.id}/accept`);
    expect(late.status).toBe(409);
    expect(late.body.error).toMatchObject({ code: 'offer_withdrawn' });
    expect((await asDispatcher.get(`/jobs/${second.id}`)).body.data.vendor_id).toBe(other.id);
  });
});

describe('declining, one open offer, withdrawing', () => {
  it('declines with a reason, refuses a second open offer, and withdraws', async () => {
    const first = await newVendor('Sol Electric', ['electrical']);
    const second = await newVendor('Tam Electric', ['electrical']);
    const job = await newJob({ service_category: 'electrical' });
    const made = await offer(job.id, first.id);

    const twice = await asDispatcher.post(`/jobs/${job.id}/offers`, { vendor_id: second.id });
    expect(twice.status).toBe(409);
    expect(twice.body.error).toMatchObject({ code: 'offer_open', details: { offer_id: made.id, vendor_id: first.id } });
    expect(twice.body.error.message).toContain('Sol Electric');

    expect((await first.portal.post(`/offers/${made.id}/decline`, {})).status).toBe(422);
    const declined = await first.portal.post(`/offers/${made.id}/decline`, { reason: 'Fully booked this week' });
    expect(declined.status, JSON.stringify(declined.body)).toBe(200);
    expect(declined.body.data).toMatchObject({ status: 'declined', decline_reason: 'Fully booked this week' });
    // The account does not offer on by itself (the default): nothing is open now.
    expect((await jobOffers(job.id)).map((o) => o.status)).toEqual(['declined']);
    expect((await asDispatcher.get(`/jobs/${job.id}`)).body.data).toMatchObject({ status: 'new', vendor_id: null });
    const trail = await audits(job.id);
    expect(trail.find((a) => a.action === 'job.offer_declined')).toMatchObject({ actor_type: 'portal_user', after: { reason: 'Fully booked this week', status: 'declined' } });
    expect(trail.find((a) => a.action === 'job.offer_declined')!.after).not.toHaveProperty('next_vendor_id');
    expect(await raised(job.id)).toContain('staff.offer_answered');

    const next = await offer(job.id, second.id, { answer_minutes: 30 });
    expect(new Date(next.answer_by).getTime() - new Date(next.created_at).getTime()).toBe(30 * minute);
    const withdrawn = await asDispatcher.post(`/offers/${next.id}/withdraw`, { reason: 'Client will call back' });
    expect(withdrawn.status).toBe(200);
    expect(withdrawn.body.data.status).toBe('withdrawn');
    const refused = await second.portal.post(`/offers/${next.id}/accept`);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'offer_withdrawn', message: 'Dispatch withdrew this offer; it can no longer be answered' });
    expect((await asDispatcher.post(`/offers/${next.id}/withdraw`, {})).status).toBe(409);
    expect(await eventKinds(job.id)).toEqual(['created', 'offered', 'offer_declined', 'offered', 'offer_withdrawn']);
    expect((await audits(job.id)).map((a) => a.action)).toEqual(['job.created', 'job.offered', 'job.offer_declined', 'job.offered', 'job.offer_withdrawn']);
  });

  it('offers only a job waiting for a vendor, and a non-compliant vendor only with an override reason', async () => {
    const insured = await newVendor('Uma Glazing', ['glazing']);
    const uninsured = await newVendor('Vic Glazing', ['glazing'], false);
    const assigned = await newJob({ service_category: 'glazing' });
    expect((await asDispatcher.post(`/jobs/${assigned.id}/assignment`, { vendor_id: insured.id })).status).toBe(200);
    const taken = await asDispatcher.post(`/jobs/${assigned.id}/offers`, { vendor_id: uninsured.id });
    expect(taken.status).toBe(409);
    expect(taken.body.error.code).toBe('job_not_waiting');

    const job = await newJob({ service_category: 'glazing' });
    const refused = await asDispatcher.post(`/jobs/${job.id}/offers`, { vendor_id: uninsured.id });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'compliance_override_required', details: { compliance: 'missing' } });
    const made = await offer(job.id, uninsured.id, { compliance_override_reason: 'Certificate seen on site' });
    expect((await uninsured.portal.post(`/offers/${made.id}/accept`)).status).toBe(200);
    expect(await rows('job_vendors', { job_id: job.id })).toMatchObject([{ vendor_id: uninsured.id, compliance_override_reason: 'Certificate seen on site' }]);
  });
});

describe('lapsing and offering on', () => {
  it('lapses an offer at its answer-by time (fixed clock); accepting it then is a clear 409', async () => {
    const vendor = await newVendor('Wren Roofing', ['roofing']);
    const job = await newJob({ service_category: 'roofing' });
    const made = await offer(job.id, vendor.id, { answer_minutes: 5 });
    const answerBy = new Date(made.answer_by).getTime();

    await lapseOffers(t.db.knex, new Date(answerBy - minute));
    expect((await jobOffers(job.id))[0]!.status).toBe('open');
    expect(await lapseOffers(t.db.knex, new Date(answerBy + minute))).toBeGreaterThanOrEqual(1);
    expect((await jobOffers(job.id))[0]).toMatchObject({ status: 'lapsed', answered_by_type: 'system', answered_by_id: 'job-offers' });
    expect(await lapseOffers(t.db.knex, new Date(answerBy + 2 * minute))).toBe(0); // once

    const late = await vendor.portal.post(`/offers/${made.id}/accept`);
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('offer_lapsed');
    expect(late.body.error.message).toMatch(/^This offer lapsed: it was not answered by \d{4}-\d\d-\d\d \d\d:\d\d UTC, so it can no longer be answered$/);
    expect((await vendor.portal.post(`/offers/${made.id}/decline`, { reason: 'Too late anyway' })).status).toBe(409);

    expect(await eventKinds(job.id)).toEqual(['created', 'offered', 'offer_lapsed']);
    expect((await audits(job.id)).find((a) => a.action === 'job.offer_lapsed')).toMatchObject({ actor_type: 'system', actor_id: 'job-offers', after: { status: 'lapsed', vendor_id: vendor.id } });
    expect(await raised(job.id)).toContain('staff.offer_answered');
    expect((await asDispatcher.get(`/jobs/${job.id}`)).body.data).toMatchObject({ status: 'new', vendor_id: null });
  });

  it('refuses an acceptance past the answer-by time even before the sweep ran', async () => {
    const vendor = await newVendor('Xan Fencing', ['fencing']);
    const job = await newJob({ service_category: 'fencing' });
    const made = await offer(job.id, vendor.id, { answer_minutes: 1 });
    await withAccount(t.db.knex, admin.accountId, { readOnly: false }, (trx) => trx('job_offers').where({ account_id: admin.accountId, id: made.id }).update({ answer_by: new Date(Date.now() - minute) }));
    const late = await vendor.portal.post(`/offers/${made.id}/accept`);
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('offer_lapsed');
    expect((await asDispatcher.get(`/jobs/${job.id}`)).body.data.vendor_id).toBeNull();
  });

  it('offers the job on to the next suggested vendor not yet offered, only when the account wants it', async () => {
    const [alpha, beta, gamma] = [await newVendor('Alpha Paving', ['paving']), await newVendor('Beta Paving', ['paving']), await newVendor('Gamma Paving', ['paving'])];
    expect((await asDispatcher.get('/dispatch/offer-settings')).body.data).toEqual({ offer_answer_minutes: 15, offer_next_automatically: false });

    // Off (the default): a decline leaves the job for dispatch.
    const manual = await newJob({ service_category: 'paving' });
    const first = await offer(manual.id, alpha.id);
    expect((await alpha.portal.post(`/offers/${first.id}/decline`, { reason: 'No crew' })).status).toBe(200);
    expect((await jobOffers(manual.id)).map((o) => o.status)).toEqual(['declined']);

    expect((await asAgent.patch('/dispatch/offer-settings', { offer_next_automatically: true })).status).toBe(403);
    const set = await asDispatcher.patch('/dispatch/offer-settings', { offer_next_automatically: true, offer_answer_minutes: 10 });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(set.body.data).toEqual({ offer_answer_minutes: 10, offer_next_automatically: true });
    // The SLA settings stay as they were.
    expect((await asDispatcher.get('/dispatch/settings')).body.data.sla_warning_minutes).toBe(120);

    try {
      const job = await newJob({ service_category: 'paving' });
      const made = await offer(job.id, alpha.id);
      expect((await alpha.portal.post(`/offers/${made.id}/decline`, { reason: 'No crew' })).status).toBe(200);
      // Suggestions rank the three alike, so by name: Beta comes next.
      let offers = await jobOffers(job.id);
      expect(offers.map((o) => [o.vendor_name, o.status, o.offered_by_type])).toEqual([
        ['Alpha Paving', 'declined', 'user'],
        ['Beta Paving', 'open', 'system'],
      ]);
      expect((await beta.portal.get('/offers')).body.data.map((o: Offer) => o.job_id)).toEqual([job.id]);

      // Beta does not answer: at the answer-by time it lapses and Gamma is offered, with the account's 10 minutes from then.
      const lapseAt = new Date(new Date(offers[1]!.answer_by).getTime() + minute);
      await lapseOffers(t.db.knex, lapseAt);
      offers = await jobOffers(job.id);
      expect(offers.map((o) => [o.vendor_name, o.status])).toEqual([
        ['Alpha Paving', 'declined'],
        ['Beta Paving', 'lapsed'],
        ['Gamma Paving', 'open'],
      ]);
      expect(new Date(offers[2]!.answer_by).getTime()).toBe(lapseAt.getTime() + 10 * minute);
      const lapsed = (await audits(job.id)).find((a) => a.action === 'job.offer_lapsed')!;
      expect(lapsed.after).toMatchObject({ vendor_id: beta.id, next_vendor_id: gamma.id, next_vendor_name: 'Gamma Paving' });
      expect(await raised(job.id)).toEqual(expect.arrayContaining(['vendor.job_offered', 'staff.offer_answered']));
      expect((await audits(job.id)).filter((a) => a.action === 'job.offered').map((a) => [a.actor_type, a.after.vendor_id, a.after.automatic ?? false])).toEqual([
        ['user', alpha.id, false],
        ['system', beta.id, true],
        ['system', gamma.id, true],
      ]);

      // Gamma lapses too: every suggested vendor was offered, so the job waits for dispatch, who is told.
      await lapseOffers(t.db.knex, new Date(lapseAt.getTime() + 11 * minute));
      offers = await jobOffers(job.id);
      expect(offers.map((o) => o.status)).toEqual(['declined', 'lapsed', 'lapsed']);
      const last = (await audits(job.id)).filter((a) => a.action === 'job.offer_lapsed').at(-1)!;
      expect(last.after).toMatchObject({ vendor_id: gamma.id, next_vendor_id: null });
      await fanOutEvents(t.db.knex, admin.accountId, { publicUrl: 'http://onelink.test' });
      const told = (await rows('notifications', { resource_id: job.id, event: 'staff.offer_answered', recipient_id: dispatcher.userId }, 'event_id')) as Array<{ title: string; body: string }>;
      expect(told.map((n) => n.title)).toEqual([
        `Alpha Paving declined the offer of ${job.reference}`,
        `Beta Paving did not answer in time for ${job.reference}`,
        `Gamma Paving did not answer in time for ${job.reference}`,
      ]);
      expect(told[0]!.body).toBe('Leaking radiator valve. Reason: No crew. Offered next to Beta Paving.');
      expect(told[2]!.body).toBe('Leaking radiator valve. No other suggested vendor is left: assign it by hand.');
    } finally {
      expect((await asDispatcher.patch('/dispatch/offer-settings', { offer_next_automatically: false, offer_answer_minutes: 15 })).status).toBe(200);
    }
  });
});

describe('who sees and answers which offer', () => {
  it('keeps a vendor to their own offers: another vendor’s are not found', async () => {
    const mine = await newVendor('Yara Locks', ['locks']);
    const theirs = await newVendor('Zed Locks', ['locks']);
    const job = await newJob({ service_category: 'locks' });
    const made = await offer(job.id, mine.id);

    expect(((await theirs.portal.get('/offers')).body.data as Offer[]).map((o) => o.id)).not.toContain(made.id);
    expect((await theirs.portal.get(`/jobs/${job.id}/offers`)).status).toBe(404);
    for (const action of ['accept', 'decline']) {
      const res = await theirs.portal.post(`/offers/${made.id}/${action}`, { reason: 'Probe' });
      expect(res.status, action).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    expect((await theirs.portal.post(`/offers/${made.id}/withdraw`, {})).status).toBe(403);
    expect((await theirs.portal.post(`/jobs/${job.id}/offers`, { vendor_id: theirs.id })).status).toBe(403);
    // Their own vendor sees the job's offers made to them, and nothing else of the job.
    expect(((await mine.portal.get(`/jobs/${job.id}/offers`)).body.data as Offer[]).map((o) => o.id)).toEqual([made.id]);
    expect((await mine.portal.get(`/jobs/${job.id}`)).status).toBe(404);

    // Clients are offered nothing and answer nothing; agents cannot offer.
    const client = apiAs(t, (await createClientPortalSession(t, admin, 7001)).token);
    expect((await client.get('/offers')).body.data).toEqual([]);
    expect((await client.get(`/jobs/${job.id}/offers`)).status).toBe(404);
    expect((await client.post(`/offers/${made.id}/accept`)).status).toBe(403);
    expect((await asAgent.post(`/jobs/${job.id}/offers`, { vendor_id: theirs.id })).status).toBe(403);
    expect((await asAgent.post(`/offers/${made.id}/accept`)).status).toBe(403);
    expect((await jobOffers(job.id))[0]!.status).toBe('open');
  });

  it('keeps each account to its own offers', async () => {
    const vendor = await newVendor('Abe Drains', ['drains']);
    const job = await newJob({ service_category: 'drains' });
    const made = await offer(job.id, vendor.id);
    const adminB = await signInAgent(t, chatwoot, 2, 'administrator', 'Admin B');
    const asB = apiAs(t, adminB.token);
    expect((await asB.patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
    const vendorB = (await asB.post('/vendors', { name: 'Vendor of B', categories: ['drains'] })).body.data;
    expect((await asB.get('/offers')).body.data).toEqual([]);
    expect((await asB.get(`/jobs/${job.id}/offers`)).status).toBe(404);
    expect((await asB.post(`/jobs/${job.id}/offers`, { vendor_id: vendorB.id })).status).toBe(404);
    for (const action of ['accept', 'decline', 'withdraw']) expect((await asB.post(`/offers/${made.id}/${action}`, { reason: 'Probe' })).status, action).toBe(404);
    // Nor can account A offer its job to B's vendor.
    const jobA = await newJob({ service_category: 'drains' });
    const foreign = await asDispatcher.post(`/jobs/${jobA.id}/offers`, { vendor_id: vendorB.id });
    expect(foreign.status).toBe(404);
    expect((await jobOffers(job.id))[0]!.status).toBe('open');
  });
});

describe('bad input', () => {
  it('refuses malformed requests with 422 naming the field', async () => {
    const vendor = await newVendor('Bo Tiling', ['tiling']);
    const job = await newJob({ service_category: 'tiling' });
    const cases: Array<[Promise<{ status: number; body: { error: { code: string; details?: { fields?: Array<{ path: string }> } } } }>, string]> = [
      [asDispatcher.post(`/jobs/${job.id}/offers`, {}), 'body.vendor_id'],
      [asDispatcher.post(`/jobs/${job.id}/offers`, { vendor_id: 'not-a-uuid' }), 'body.vendor_id'],
      [asDispatcher.post(`/jobs/${job.id}/offers`, { vendor_id: vendor.id, answer_minutes: 0 }), 'body.answer_minutes'],
      [asDispatcher.post(`/jobs/${job.id}/offers`, { vendor_id: vendor.id, answer_minutes: 'ten' }), 'body.answer_minutes'],
      [asDispatcher.post(`/jobs/${job.id}/offers`, { vendor_id: vendor.id, answer_minutes: 20_000 }), 'body.answer_minutes'],
      [asDispatcher.post('/jobs/not-a-job/offers', { vendor_id: vendor.id }), 'params.jobId'],
      [asDispatcher.post('/offers/not-an-offer/accept'), 'params.offerId'],
      [asDispatcher.post(`/offers/${job.id}/decline`, { reason: '   ' }), 'body.reason'],
      [asDispatcher.get('/offers', { status: 'pending' }), 'query.status'],
      [asDispatcher.get('/offers', { limit: 0 }), 'query.limit'],
      [asDispatcher.patch('/dispatch/offer-settings', { offer_answer_minutes: 0 }), 'body.offer_answer_minutes'],
      [asDispatcher.patch('/dispatch/offer-settings', { offer_next_automatically: 'yes' }), 'body.offer_next_automatically'],
    ];
    for (const [pending, field] of cases) {
      const res = await pending;
      expect(res.status, field).toBe(422);
      expect(res.body.error.code).toBe('validation_failed');
      expect(res.body.error.details?.fields?.map((f) => f.path), field).toContain(field);
    }
    // Unknown ids of the right shape: not found, and nothing stored.
    expect((await asDispatcher.post(`/jobs/${job.id}/offers`, { vendor_id: job.id })).status).toBe(404);
    expect((await asDispatcher.post(`/offers/${job.id}/accept`)).status).toBe(404);
    expect(await jobOffers(job.id)).toEqual([]);
  });
});

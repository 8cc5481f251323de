// Quotes on deals: staff add one (amount typed as a decimal, kept in the currency's minor units,
// optionally with a PDF or photo), share it with the deal's client or withdraw it; the client sees
// only their own shared quotes and decides once. Approving wins the deal (and automation opens the
// job), declining loses it with the client's comment; who, when, from which address is recorded in
// the quote, the audit and the deal's timeline. Nobody reaches another client's or account's quote.
import pg from 'pg';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { portalChannel } from '../../extension/events/portal-feed.ts';
import { fromMinorUnits, minorDigits, toMinorUnits } from '../../extension/modules/quotes/money.ts';
import { apiAs, fetchSignedLink } from '../helpers/api.ts';
import type { TestApp } from '../helpers/app.ts';
import { createClientPortalSession, signInAgent, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

const world = useWorld([1, 2], { env: { ONELINK_UPLOAD_MAX_MB: '1' } });
let t: TestApp;
let admin: SignedIn;
let adminB: SignedIn;
let asStaff: ReturnType<typeof apiAs>;
let asStaffB: ReturnType<typeof apiAs>;
let pipeline: { id: string; stages: Array<{ id: string; name: string; kind: string }> };
const clients = {} as Record<'alice' | 'bob' | 'aliceInB', { token: string; portalUserId: string; contactId: number }>;

const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Title (Quote 1) >> endobj\ntrailer << >>\n%%EOF\n');
const stage = (name: string) => pipeline.stages.find((s) => s.name === name)!;

async function newDeal(api: ReturnType<typeof apiAs>, body: Record<string, unknown> = {}, pipelineId = pipeline.id) {
  const res = await api.post('/deals', { title: 'Roof repair', pipeline_id: pipelineId, stage_id: body.stage_id, ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data as { id: string; reference: string; status: string; version: number };
}

/** A quote as the drawer sends it: multipart with the fields and, when given, the document. */
function sendQuote(token: string, dealId: string, fields: Record<string, string>, file?: { data: Buffer; name: string }) {
  const req = request(t.app).post(`/api/v1/deals/${dealId}/quotes`).set('Authorization', `Bearer ${token}`);
  for (const [key, value] of Object.entries(fields)) req.field(key, value);
  if (file) req.attach('document', file.data, file.name);
  return req;
}

const asClient = (who: keyof typeof clients) => apiAs(t, clients[who].token);
const quoteRows = (accountId = admin.accountId) => withAccount(t.db.knex, accountId, { readOnly: true }, (trx) => trx('deal_quotes').where({ account_id: accountId }).orderBy('created_at').select());
const snapshot = async () =>
  JSON.stringify(
    await withAccount(t.db.knex, admin.accountId, { readOnly: true }, async (trx) => ({
      quotes: await trx('deal_quotes').where({ account_id: admin.accountId }).orderBy('id').select('id', 'status', 'decided_at', 'decision_comment', 'version'),
      deals: await trx('deals').where({ account_id: admin.accountId }).orderBy('id').select('id', 'status', 'version', 'lost_reason'),
      audits: await trx('audit_events').where({ account_id: admin.accountId }).count('* as n'),
    })),
  );

beforeAll(async () => {
  t = world.t;
  admin = await signInAgent(t, world.chatwoot, 1, 'administrator', 'Quinn Admin');
  adminB = await signInAgent(t, world.chatwoot, 2, 'administrator', 'Admin of B');
  for (const a of [admin, adminB]) expect((await apiAs(t, a.token).patch('/admin/capabilities', { profile: 'construction' })).status).toBe(200);
  const agent = await signInAgent(t, world.chatwoot, 1, 'agent', 'Sally Sales');
  asStaff = apiAs(t, agent.token);
  asStaffB = apiAs(t, adminB.token);
  pipeline = (await asStaff.get('/pipelines')).body.data[0];
  clients.alice = { ...(await createClientPortalSession(t, admin, 7001)), contactId: 7001 };
  clients.bob = { ...(await createClientPortalSession(t, admin, 7002)), contactId: 7002 };
  // The same Chatwoot contact number in another account is another person.
  clients.aliceInB = { ...(await createClientPortalSession(t, adminB, 7001)), contactId: 7001 };
});

describe('money', () => {
  it('turns a typed decimal into the currency’s minor units and back', () => {
    expect([minorDigits('EUR'), minorDigits('JPY'), minorDigits('KWD')]).toEqual([2, 0, 3]);
    expect(toMinorUnits('1250.5', 'EUR')).toBe(125_050);
    expect(toMinorUnits(' 0.07 ', 'USD')).toBe(7);
    expect(toMinorUnits('98000', 'JPY')).toBe(98_000);
    expect(toMinorUnits('1.234', 'KWD')).toBe(1234);
    expect(fromMinorUnits(125_050, 'EUR')).toBe('1250.50');
    expect(fromMinorUnits('98000', 'JPY')).toBe('98000');
    expect(fromMinorUnits(1234, 'KWD')).toBe('1.234');
    for (const [amount, currency] of [['980.5', 'JPY'], ['1,250.00', 'EUR'], ['1.999', 'USD'], ['-5', 'USD'], ['12e3', 'USD'], ['1', 'XYZ'], ['99999999999999999', 'USD']]) {
      expect(() => toMinorUnits(amount!, currency!), `${amount} ${currency}`).toThrow();
    }
  });
});

describe('staff add, share and withdraw quotes', () => {
  it('keeps a draft with its amount in minor units and its document behind a signed link; JPY has no decimals', async () => {
    const deal = await newDeal(asStaff, { chatwoot_contact_id: 7001, amount_minor: 125_000, currency: 'EUR' });
    const json = await asStaff.post(`/deals/${deal.id}/quotes`, { title: 'Labour only', amount: '1250.50', currency: 'eur' });
    expect(json.status, JSON.stringify(json.body)).toBe(201);
    expect(json.body.data).toMatchObject({ deal_id: deal.id, title: 'Labour only', amount: '1250.50', amount_minor: 125_050, currency: 'EUR', status: 'draft', document: null, decided_by: null });

    const withFile = await sendQuote(admin.token, deal.id, { title: 'Roof, labour and materials', amount: '98000', currency: 'JPY' }, { data: pdf, name: 'quote-1.pdf' });
    expect(withFile.status, JSON.stringify(withFile.body)).toBe(201);
    expect(withFile.body.data).toMatchObject({ amount: '98000', amount_minor: 98_000, currency: 'JPY', document: { filename: 'quote-1.pdf', content_type: 'application/pdf', size_bytes: pdf.length } });
    const bytes = await fetchSignedLink(t, withFile.body.data.document.url);
    expect(bytes.status).toBe(200);
    expect(bytes.headers['content-type']).toBe('application/pdf');
    expect(Buffer.compare(bytes.body as Buffer, pdf)).toBe(0);
    expect(JSON.stringify(withFile.body.data)).not.toContain('storage_key');

    const listed = await asStaff.get(`/deals/${deal.id}/quotes`);
    expect(listed.body.data.map((q: { title: string; status: string }) => [q.title, q.status])).toEqual([
      ['Roof, labour and materials', 'draft'],
      ['Labour only', 'draft'],
    ]);
    // A draft is the team's own: the client sees nothing yet.
    expect((await asClient('alice').get('/portal/client/quotes')).body.data).toEqual([]);
    expect((await asClient('alice').get(`/portal/client/quotes/${json.body.data.id}`)).status).toBe(404);
  });

  it('refuses bad input with a clear 4xx and changes nothing', async () => {
    const deal = await newDeal(asStaff, { chatwoot_contact_id: 7001 });
    const before = await snapshot();
    const cases: Array<[Record<string, string>, number, string, string | null]> = [
      [{ title: 'Yen with cents', amount: '980.5', currency: 'JPY' }, 422, 'validation_failed', 'too_many_decimals'],
      [{ title: 'Separators', amount: '1,250.00', currency: 'EUR' }, 422, 'validation_failed', 'invalid_amount'],
      [{ title: 'Unknown money', amount: '10', currency: 'XYZ' }, 422, 'validation_failed', 'unknown_currency'],
      [{ title: '', amount: '10', currency: 'EUR' }, 422, 'validation_failed', 'required'],
      [{ title: 'Negative', amount: '-10', currency: 'EUR' }, 422, 'validation_failed', 'invalid_amount'],
    ];
    for (const [fields, status, code, fieldCode] of cases) {
      const res = await sendQuote(admin.token, deal.id, fields);
      expect([res.status, res.body.error?.code], JSON.stringify(fields)).toEqual([status, code]);
      if (fieldCode) expect(JSON.stringify(res.body.error.details), JSON.stringify(fields)).toContain(fieldCode);
    }
    const text = await sendQuote(admin.token, deal.id, { title: 'A text file', amount: '10', currency: 'EUR' }, { data: Buffer.from('just words, not a quote'), name: 'quote.txt' });
    expect(text.status).toBe(415);
    const word = await sendQuote(admin.token, deal.id, { title: 'A zip', amount: '10', currency: 'EUR' }, { data: Buffer.from('PK\u0003\u0004' + '\u0000'.repeat(40)), name: 'quote.zip' });
    expect(word.status).toBe(415);
    const big = await sendQuote(admin.token, deal.id, { title: 'Too large', amount: '10', currency: 'EUR' }, { data: Buffer.concat([pdf, Buffer.alloc(1024 * 1024 + 10)]), name: 'big.pdf' });
    expect(big.status).toBe(413);
    expect((await asStaff.post(`/deals/${deal.id}/quotes`, { title: 'No amount', currency: 'EUR' })).status).toBe(422);
    expect((await asStaff.post(`/deals/00000000-0000-4000-8000-000000000000/quotes`, { title: 'Nowhere', amount: '1', currency: 'EUR' })).status).toBe(404);
    expect(await snapshot()).toBe(before);
  });

  it('shares only when the deal’s contact has a client portal account, and withdraws before a decision', async () => {
    const noContact = await newDeal(asStaff);
    const q1 = (await asStaff.post(`/deals/${noContact.id}/quotes`, { title: 'Gutters', amount: '300', currency: 'USD' })).body.data;
    const refusedNoContact = await asStaff.post(`/deals/${noContact.id}/quotes/${q1.id}/share`);
    expect([refusedNoContact.status, refusedNoContact.body.error.code]).toEqual([409, 'no_contact']);

    const stranger = await newDeal(asStaff, { chatwoot_contact_id: 7999 });
    const q2 = (await asStaff.post(`/deals/${stranger.id}/quotes`, { title: 'Chimney', amount: '450', currency: 'USD' })).body.data;
    const refused = await asStaff.post(`/deals/${stranger.id}/quotes/${q2.id}/share`);
    expect([refused.status, refused.body.error.code]).toEqual([409, 'no_client_portal_user']);
    expect(refused.body.error.message).toMatch(/invite the contact to the portal/i);
    expect((await quoteRows()).find((q) => q.id === q2.id)).toMatchObject({ status: 'draft', shared_at: null });

    const deal = await newDeal(asStaff, { chatwoot_contact_id: 7001 });
    const quote = (await asStaff.post(`/deals/${deal.id}/quotes`, { title: 'Skylight', amount: '820.00', currency: 'GBP' })).body.data;
    const shared = await asStaff.post(`/deals/${deal.id}/quotes/${quote.id}/share`);
    expect(shared.status, JSON.stringify(shared.body)).toBe(200);
    expect(shared.body.data).toMatchObject({ status: 'shared', version: 2 });
    expect(shared.body.data.shared_at).toBeTruthy();
    // Sharing again changes nothing.
    expect((await asStaff.post(`/deals/${deal.id}/quotes/${quote.id}/share`)).body.data.version).toBe(2);
    const seen = await asClient('alice').get(`/portal/client/quotes/${quote.id}`);
    expect(seen.status).toBe(200);
    expect(seen.body.data).toEqual({
      id: quote.id,
      title: 'Skylight',
      amount: '820.00',
      currency: 'GBP',
      status: 'shared',
      shared_at: shared.body.data.shared_at,
      decided_at: null,
      decision_comment: null,
      document: null,
      deal: { reference: deal.reference },
    });

    const withdrawn = await asStaff.post(`/deals/${deal.id}/quotes/${quote.id}/withdraw`);
    expect(withdrawn.body.data.status).toBe('withdrawn');
    expect((await asClient('alice').get(`/portal/client/quotes/${quote.id}`)).status).toBe(404);
    const late = await asClient('alice').post(`/portal/client/quotes/${quote.id}/decision`, { decision: 'approve' });
    expect(late.status).toBe(404);
    const reshare = await asStaff.post(`/deals/${deal.id}/quotes/${quote.id}/share`);
    expect([reshare.status, reshare.body.error.code]).toEqual([409, 'quote_withdrawn']);
    const audits = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) => trx('audit_events').where({ account_id: admin.accountId, resource_id: quote.id }).orderBy('id').pluck('action'));
    expect(audits).toEqual(['deal.quote_created', 'deal.quote_shared', 'deal.quote_withdrawn']);
  });
});

describe('the client’s open portal', () => {
  it('hears of a quote shared, decided and withdrawn, addressed to that client only', async () => {
    const listener = new pg.Client({ connectionString: t.db.url });
    await listener.connect();
    const heard: Array<{ a: number; p: string; e: { type: string; quote_id?: string } }> = [];
    listener.on('notification', (m) => heard.push(JSON.parse(m.payload ?? '{}')));
    await listener.query(`listen ${portalChannel}`);
    try {
      const deal = await newDeal(asStaff, { chatwoot_contact_id: 7001 });
      const first = (await asStaff.post(`/deals/${deal.id}/quotes`, { title: 'Heard when shared', amount: '5', currency: 'EUR' })).body.data;
      const second = (await asStaff.post(`/deals/${deal.id}/quotes`, { title: 'Heard when withdrawn', amount: '6', currency: 'EUR' })).body.data;
      await asStaff.post(`/deals/${deal.id}/quotes/${first.id}/share`);
      await asStaff.post(`/deals/${deal.id}/quotes/${second.id}/share`);
      await asStaff.post(`/deals/${deal.id}/quotes/${second.id}/withdraw`);
      await asClient('alice').post(`/portal/client/quotes/${first.id}/decision`, { decision: 'approve' });
      const about = (quoteId: string) => heard.filter((n) => n.e.quote_id === quoteId);
      await expect.poll(() => about(first.id).length).toBe(2); // shared, decided
      await expect.poll(() => about(second.id).length).toBe(2); // shared, withdrawn
      for (const notice of [...about(first.id), ...about(second.id)]) expect(notice).toMatchObject({ a: admin.accountId, p: clients.alice.portalUserId, e: { type: 'quote' } });
    } finally {
      await listener.end();
    }
  });
});

describe('the client decides', () => {
  it('lists only the client’s own shared quotes, newest first', async () => {
    const mine = await newDeal(asStaff, { chatwoot_contact_id: 7001 });
    const bobs = await newDeal(asStaff, { chatwoot_contact_id: 7002 });
    const share = async (dealId: string, title: string) => {
      const q = (await sendQuote(admin.token, dealId, { title, amount: '10', currency: 'EUR' }, { data: pdf, name: `${title}.pdf` })).body.data;
      expect((await asStaff.post(`/deals/${dealId}/quotes/${q.id}/share`)).status).toBe(200);
      return q.id as string;
    };
    const a1 = await share(mine.id, 'Alice first');
    const a2 = await share(mine.id, 'Alice second');
    const b1 = await share(bobs.id, 'Bob only');
    await asStaff.post(`/deals/${mine.id}/quotes`, { title: 'Alice draft', amount: '1', currency: 'EUR' });

    const list = (await asClient('alice').get('/portal/client/quotes')).body.data as Array<{ id: string; title: string; document: { url: string } }>;
    expect(list.map((q) => q.id).slice(0, 2)).toEqual([a2, a1]);
    expect(list.map((q) => q.title)).not.toContain('Alice draft');
    expect(list.map((q) => q.id)).not.toContain(b1);
    const doc = await fetchSignedLink(t, list[0]!.document.url);
    expect(Buffer.compare(doc.body as Buffer, pdf)).toBe(0);
    expect((await asClient('bob').get('/portal/client/quotes')).body.data.map((q: { id: string }) => q.id)).toEqual([b1]);

    // Bob cannot read or decide Alice's quote by its id; nothing changes.
    const before = await snapshot();
    expect((await asClient('bob').get(`/portal/client/quotes/${a1}`)).status).toBe(404);
    const guessed = await asClient('bob').post(`/portal/client/quotes/${a1}/decision`, { decision: 'decline', comment: 'Not mine' });
    expect([guessed.status, guessed.body.error.code]).toEqual([404, 'not_found']);
    expect(await snapshot()).toBe(before);
    // Staff have no client quotes of their own.
    expect((await asStaff.get('/portal/client/quotes')).status).toBe(403);
  });

  it('approves: the deal is won, automation opens the job, and who, when, where is on the quote, the audit and the timeline', async () => {
    const adminApi = apiAs(t, admin.token);
    const rule = await adminApi.post('/automation-rules', {
      name: 'Won quote opens the job',
      pipeline_id: pipeline.id,
      trigger: 'deal_entered_stage',
      stage_id: stage('Completed').id,
      action: 'create_job',
      config: { summary: 'Work for {deal_title}' },
    });
    expect(rule.status, JSON.stringify(rule.body)).toBe(201);
    const deal = await newDeal(asStaff, { title: 'Loft conversion', chatwoot_contact_id: 7001, stage_id: stage('Quote sent').id });
    const quote = (await asStaff.post(`/deals/${deal.id}/quotes`, { title: 'Loft, all in', amount: '18400', currency: 'EUR' })).body.data;
    await asStaff.post(`/deals/${deal.id}/quotes/${quote.id}/share`);

    const approve = () =>
      request(t.app)
        .post(`/api/v1/portal/client/quotes/${quote.id}/decision`)
        .set('Authorization', `Bearer ${clients.alice.token}`)
        .set('User-Agent', 'PhoneBrowser/1.0 (quote test)')
        .set('X-Forwarded-For', '203.0.113.7')
        .send({ decision: 'approve', comment: '  Please start in March  ' });
    const approved = await approve();
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body.data).toMatchObject({ id: quote.id, status: 'approved', decision_comment: 'Please start in March' });
    expect(approved.body.data.decided_at).toBeTruthy();

    const dealNow = (await asStaff.get(`/deals/${deal.id}`)).body.data;
    expect(dealNow).toMatchObject({ status: 'won', stage_id: stage('Completed').id });
    const row = (await quoteRows()).find((q) => q.id === quote.id)!;
    expect(row).toMatchObject({ status: 'approved', decided_by_portal_user_id: clients.alice.portalUserId, decided_ip: '203.0.113.7', decided_user_agent: 'PhoneBrowser/1.0 (quote test)', decision_comment: 'Please start in March' });
    const staffView = (await asStaff.get(`/deals/${deal.id}/quotes`)).body.data[0];
    expect(staffView).toMatchObject({ status: 'approved', decided_by: { id: clients.alice.portalUserId, name: 'Client 7001' }, decided_ip: '203.0.113.7' });

    const audits = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) =>
      trx('audit_events').where({ account_id: admin.accountId }).whereIn('resource_id', [quote.id, deal.id]).orderBy('id').select('action', 'actor_type', 'actor_id', 'after', 'occurred_at'),
    );
    const decided = audits.find((a) => a.action === 'deal.quote_approved')!;
    expect(decided).toMatchObject({ actor_type: 'portal_user', actor_id: clients.alice.portalUserId, after: { ip: '203.0.113.7', user_agent: 'PhoneBrowser/1.0 (quote test)', deal_id: deal.id, comment: 'Please start in March' } });
    expect(decided.occurred_at).toBeTruthy();
    expect(audits.find((a) => a.action === 'deal.won')).toMatchObject({ actor_type: 'portal_user', actor_id: clients.alice.portalUserId });

    const timeline = (await asStaff.get(`/deals/${deal.id}/timeline`)).body.data as Array<{ kind: string; data: Record<string, unknown> }>;
    const note = timeline.find((e) => e.kind === 'note')!;
    expect(note.data).toMatchObject({ author_type: 'portal_user', author_id: clients.alice.portalUserId });
    expect(note.data.body).toContain('Quote “Loft, all in” (EUR 18400.00) approved by Client 7001 in the client portal');
    expect(note.data.body).toContain('Comment: Please start in March');
    expect(timeline.find((e) => e.kind === 'stage_change' && e.data.to_status === 'won')?.data).toMatchObject({ actor_type: 'portal_user', to_stage: 'Completed' });

    // Automation on the won stage opened the job for the deal.
    const jobs = await withAccount(t.db.knex, admin.accountId, { readOnly: true }, (trx) =>
      trx('job_deals').join('jobs', (on) => on.on('jobs.account_id', 'job_deals.account_id').andOn('jobs.id', 'job_deals.job_id')).where({ 'job_deals.account_id': admin.accountId, 'job_deals.deal_id': deal.id }).select('jobs.summary', 'jobs.source'),
    );
    expect(jobs).toEqual([{ summary: 'Work for Loft conversion', source: 'pipeline' }]);

    // Final: a second decision, either way, and staff withdrawing, are refused; nothing changes.
    const before = await snapshot();
    const again = await approve();
    expect([again.status, again.body.error.code]).toEqual([409, 'quote_decided']);
    const flip = await asClient('alice').post(`/portal/client/quotes/${quote.id}/decision`, { decision: 'decline', comment: 'Changed my mind' });
    expect([flip.status, flip.body.error.code]).toEqual([409, 'quote_decided']);
    const withdraw = await asStaff.post(`/deals/${deal.id}/quotes/${quote.id}/withdraw`);
    expect([withdraw.status, withdraw.body.error.code]).toEqual([409, 'quote_decided']);
    expect(await snapshot()).toBe(before);
  });

  it('declines: the deal is lost with the client’s comment as the reason', async () => {
    const deal = await newDeal(asStaff, { title: 'Patio', chatwoot_contact_id: 7002 });
    const quote = (await asStaff.post(`/deals/${deal.id}/quotes`, { title: 'Patio, 40 m²', amount: '5200', currency: 'USD' })).body.data;
    await asStaff.post(`/deals/${deal.id}/quotes/${quote.id}/share`);
    const before = await snapshot();
    for (const body of [{ decision: 'maybe' }, { decision: 'decline', comment: 'x'.repeat(501) }, { comment: 'No decision' }, { decision: 'decline', comment: 'bad\u0000text' }]) {
      const res = await asClient('bob').post(`/portal/client/quotes/${quote.id}/decision`, body);
      expect(res.status, JSON.stringify(body)).toBe(422);
    }
    expect(await snapshot()).toBe(before);

    const declined = await asClient('bob').post(`/portal/client/quotes/${quote.id}/decision`, { decision: 'decline', comment: 'Too expensive for this year' });
    expect(declined.status, JSON.stringify(declined.body)).toBe(200);
    expect(declined.body.data).toMatchObject({ status: 'declined', decision_comment: 'Too expensive for this year' });
    expect((await asStaff.get(`/deals/${deal.id}`)).body.data).toMatchObject({ status: 'lost', lost_reason: 'Too expensive for this year', stage_id: stage('Lost').id });

    // Without a comment the reason says where the decline came from.
    const other = await newDeal(asStaff, { title: 'Fence', chatwoot_contact_id: 7002 });
    const q2 = (await asStaff.post(`/deals/${other.id}/quotes`, { title: 'Fence, 20 m', amount: '900', currency: 'USD' })).body.data;
    await asStaff.post(`/deals/${other.id}/quotes/${q2.id}/share`);
    expect((await asClient('bob').post(`/portal/client/quotes/${q2.id}/decision`, { decision: 'decline' })).status).toBe(200);
    expect((await asStaff.get(`/deals/${other.id}`)).body.data).toMatchObject({ status: 'lost', lost_reason: 'Quote “Fence, 20 m” declined in the client portal' });
  });

  it('leaves a deal closed meanwhile as it is, and says so on its timeline', async () => {
    const deal = await newDeal(asStaff, { title: 'Porch', chatwoot_contact_id: 7002 });
    const quote = (await asStaff.post(`/deals/${deal.id}/quotes`, { title: 'Porch roof', amount: '700', currency: 'USD' })).body.data;
    await asStaff.post(`/deals/${deal.id}/quotes/${quote.id}/share`);
    const won = await asStaff.post(`/deals/${deal.id}/status`, { status: 'won', version: deal.version });
    expect(won.status, JSON.stringify(won.body)).toBe(200);
    const declined = await asClient('bob').post(`/portal/client/quotes/${quote.id}/decision`, { decision: 'decline', comment: 'Changed plans' });
    expect(declined.body.data.status).toBe('declined');
    expect((await asStaff.get(`/deals/${deal.id}`)).body.data).toMatchObject({ status: 'won', lost_reason: null, version: won.body.data.version });
    const notes = (await asStaff.get(`/deals/${deal.id}/notes`)).body.data as Array<{ body: string }>;
    expect(notes[0]!.body).toContain('declined by Client 7002');
    expect(notes[0]!.body).toContain('The deal was not open, so its status was left as it was.');
  });

  it('keeps accounts apart: the same contact number in account B is another client, and B’s staff cannot reach A’s quotes', async () => {
    const dealA = await newDeal(asStaff, { chatwoot_contact_id: 7001 });
    const quoteA = (await asStaff.post(`/deals/${dealA.id}/quotes`, { title: 'Only for A', amount: '1', currency: 'EUR' })).body.data;
    await asStaff.post(`/deals/${dealA.id}/quotes/${quoteA.id}/share`);
    const pipelineB = (await asStaffB.get('/pipelines')).body.data[0];
    const dealB = await newDeal(asStaffB, { chatwoot_contact_id: 7001 }, pipelineB.id);
    const quoteB = (await asStaffB.post(`/deals/${dealB.id}/quotes`, { title: 'Only for B', amount: '2', currency: 'EUR' })).body.data;
    expect((await asStaffB.post(`/deals/${dealB.id}/quotes/${quoteB.id}/share`)).status).toBe(200);

    const before = await snapshot();
    expect((await asClient('aliceInB').get('/portal/client/quotes')).body.data.map((q: { id: string }) => q.id)).toEqual([quoteB.id]);
    expect((await asClient('aliceInB').get(`/portal/client/quotes/${quoteA.id}`)).status).toBe(404);
    expect((await asClient('aliceInB').post(`/portal/client/quotes/${quoteA.id}/decision`, { decision: 'approve' })).status).toBe(404);
    expect((await asClient('alice').get(`/portal/client/quotes/${quoteB.id}`)).status).toBe(404);
    expect((await asClient('alice').post(`/portal/client/quotes/${quoteB.id}/decision`, { decision: 'approve' })).status).toBe(404);
    expect((await asStaffB.get(`/deals/${dealA.id}/quotes`)).status).toBe(404);
    expect((await asStaffB.post(`/deals/${dealA.id}/quotes/${quoteA.id}/withdraw`)).status).toBe(404);
    // A's deal with B's quote id: the quote is looked up under the deal, in the caller's account.
    expect((await asStaff.post(`/deals/${dealA.id}/quotes/${quoteB.id}/share`)).status).toBe(404);
    expect(await snapshot()).toBe(before);
    expect((await quoteRows(adminB.accountId)).map((q) => q.status)).toEqual(['shared']);
  });
});

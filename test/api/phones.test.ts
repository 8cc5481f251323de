// Phones typed the way people type them: national numbers read in the account's default phone
// country (an admin setting, else the Chatwoot locale, else US), and searches by phone digits
// whatever the formatting.
import { describe, expect, it, beforeAll } from 'vitest';
import { countryOfLocale, ensureAccount, phoneCountryOf, accountPhoneCountry } from '../../extension/accounts/service.ts';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { phoneQueryDigits, toE164 } from '../../extension/phones/e164.ts';
import { apiAs } from '../helpers/api.ts';
import { signInAgent, type SignedIn } from '../helpers/identity.ts';
import { useWorld } from '../helpers/world.ts';

describe('reading phone numbers', () => {
  it('reads a national number in the given country, and an international one as written', () => {
    expect(toE164('(510) 555-0177', 'US')).toBe('+15105550177');
    expect(toE164('(510) 555-0177')).toBeNull(); // no country: a national number means nothing
    expect(toE164('020 7946 0958', 'GB')).toBe('+442079460958');
    expect(toE164('+1 510 555 0177', 'GB')).toBe('+15105550177');
    expect(toE164('not a phone', 'US')).toBeNull();
  });

  it('takes the country from a locale: its region, else its language', () => {
    expect(countryOfLocale('en_GB')).toBe('GB');
    expect(countryOfLocale('pt_BR')).toBe('BR');
    expect(countryOfLocale('en')).toBe('US');
    expect(countryOfLocale('de')).toBe('DE');
    expect(countryOfLocale('xx')).toBeNull();
    expect(phoneCountryOf({ default_phone_country: 'GB', chatwoot_locale: 'pt_BR' })).toEqual({ country: 'GB', source: 'setting' });
    expect(phoneCountryOf({ default_phone_country: null, chatwoot_locale: 'pt_BR' })).toEqual({ country: 'BR', source: 'chatwoot_locale' });
    expect(phoneCountryOf({})).toEqual({ country: 'US', source: 'fallback' });
  });

  it('recognises a query that is a phone number, however it is formatted', () => {
    expect(phoneQueryDigits('555-0142')).toBe('5550142');
    expect(phoneQueryDigits('(510) 555-0177')).toBe('5105550177');
    expect(phoneQueryDigits('+1 510 555 0177')).toBe('15105550177');
    expect(phoneQueryDigits('harrington')).toBeNull();
    expect(phoneQueryDigits('D-311')).toBeNull();
    expect(phoneQueryDigits('12')).toBeNull();
  });
});

describe('the account default phone country setting', () => {
  const world = useWorld([1, 2]);
  let admin: SignedIn;
  let agent: SignedIn;
  beforeAll(async () => {
    admin = await signInAgent(world.t, world.chatwoot, 1, 'administrator');
    agent = await signInAgent(world.t, world.chatwoot, 1, 'agent');
  });

  it('defaults to US and is shown with where it comes from', async () => {
    const res = await apiAs(world.t, admin.token).get('/admin/capabilities');
    expect(res.status).toBe(200);
    expect(res.body.data.phone_country).toEqual({ country: 'US', source: 'fallback', setting: null, chatwoot_locale: null });
  });

  it('follows the Chatwoot account locale when Onelink learns it', async () => {
    const installation = await world.t.db.knex('installations').first('id');
    const account = await ensureAccount(world.t.db.knex, installation.id, { id: 2, name: 'Account 2', locale: 'pt_BR' }, null);
    expect(await accountPhoneCountry(world.t.db.knex, account.account_id)).toBe('BR');
    const again = await ensureAccount(world.t.db.knex, installation.id, { id: 2, name: 'Account 2', locale: 'en_GB' }, null);
    expect(again.chatwoot_locale).toBe('en_GB');
    expect(await accountPhoneCountry(world.t.db.knex, account.account_id)).toBe('GB');
  });

  it('is set by an admin, audited, and set back to the default with null', async () => {
    const api = apiAs(world.t, admin.token);
    const set = await api.patch('/admin/capabilities', { phone_country: 'GB' });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(set.body.data.phone_country).toMatchObject({ country: 'GB', source: 'setting', setting: 'GB' });
    expect(await accountPhoneCountry(world.t.db.knex, admin.accountId)).toBe('GB');
    const trail = await api.get('/admin/audit-events', { resource_type: 'account' });
    expect(trail.body.data[0]).toMatchObject({ action: 'account.capabilities_changed', before: { default_phone_country: null }, after: { default_phone_country: 'GB' } });
    const reset = await api.patch('/admin/capabilities', { phone_country: null });
    expect(reset.body.data.phone_country).toMatchObject({ country: 'US', source: 'fallback', setting: null });
  });

  it('refuses what is not a country code, changing nothing', async () => {
    const api = apiAs(world.t, admin.token);
    await api.patch('/admin/capabilities', { phone_country: 'CA' });
    const before = (await api.get('/admin/capabilities')).body.data;
    for (const phone_country of ['gb', 'UK', 'USA', 'XX', '', 44, true]) {
      const res = await api.patch('/admin/capabilities', { phone_country });
      expect(res.status, JSON.stringify(phone_country)).toBe(422);
      expect(res.body.error.code).toBe('validation_failed');
      expect(res.body.error.details.fields[0].path).toBe('body.phone_country');
    }
    expect((await api.get('/admin/capabilities')).body.data).toEqual(before);
    expect((await apiAs(world.t, agent.token).patch('/admin/capabilities', { phone_country: 'GB' })).status).toBe(403);
    await api.patch('/admin/capabilities', { phone_country: null });
  });

  it('reads a client portal user’s national phone number in the account’s country', async () => {
    const api = apiAs(world.t, admin.token);
    const us = await api.post('/portal/clients', { chatwoot_contact_id: 501, name: 'Ana', phone: '(510) 555-0177' });
    expect(us.status, JSON.stringify(us.body)).toBe(201);
    expect(us.body.data.phone).toBe('+15105550177');
    await api.patch('/admin/capabilities', { phone_country: 'GB' });
    const gb = await api.post('/portal/clients', { chatwoot_contact_id: 502, name: 'Ben', phone: '020 7946 0958' });
    expect(gb.body.data.phone).toBe('+442079460958');
    const bad = await api.post('/portal/clients', { chatwoot_contact_id: 503, name: 'Cy', phone: '555' });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details.fields[0]).toMatchObject({ path: 'body.phone', code: 'invalid_phone' });
    expect(bad.body.error.details.fields[0].message).toContain('GB');
    await api.patch('/admin/capabilities', { phone_country: null });
  });
});

describe('searching by phone', () => {
  const world = useWorld([1]);
  let agent: SignedIn;
  beforeAll(async () => {
    agent = await signInAgent(world.t, world.chatwoot, 1, 'agent');
    await withAccount(world.t.db.knex, agent.accountId, { readOnly: false }, (trx) =>
      trx('chatwoot_contacts').insert([
        { account_id: agent.accountId, chatwoot_contact_id: 4301, name: 'Dora Fix', phone_e164: '+15105550177' },
        { account_id: agent.accountId, chatwoot_contact_id: 4302, name: 'Eli Pipe', phone_e164: '+14155550142' },
        { account_id: agent.accountId, chatwoot_contact_id: 4303, name: 'Flo Brick', phone_e164: '+442079460958' },
      ]),
    );
  });

  const contactsFound = async (q: string) => {
    const res = await apiAs(world.t, agent.token).get('/search', { q });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.data.filter((h: { type: string }) => h.type === 'contact').map((h: { id: string }) => Number(h.id));
  };

  it('finds a contact by the digits of a formatted number', async () => {
    expect(await contactsFound('555-0142')).toEqual([4302]);
    expect(await contactsFound('5550142')).toEqual([4302]);
    expect(await contactsFound('(510) 555-0177')).toEqual([4301]);
    expect(await contactsFound('510.555.0177')).toEqual([4301]);
    expect(await contactsFound('+1 510 555 0177')).toEqual([4301]);
    expect(await contactsFound('+15105550177')).toEqual([4301]);
    expect(await contactsFound('020 7946 0958')).toEqual([4303]); // national form of a foreign number
    expect(await contactsFound('+44 20 7946 0958')).toEqual([4303]);
  });

  it('does not match other numbers sharing a few digits, and still searches names', async () => {
    expect(await contactsFound('555-0199')).toEqual([]);
    expect(await contactsFound('dora')).toEqual([4301]);
  });
});

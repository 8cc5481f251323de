// The e-mail channel against a real SMTP server (smtp-server on loopback): what arrives (envelope,
// headers, plain and HTML bodies), and how the server's answers map to delivery outcomes.
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { withAccountForTests as withAccount } from '../../extension/db/tenant.ts';
import { eventNames } from '../../extension/notifications/catalogue.ts';
import { emailChannel, renderEmail } from '../../extension/notifications/channels/email.ts';
import type { OutgoingDelivery } from '../../extension/notifications/channels/types.ts';
import { signInAgent } from '../helpers/identity.ts';
import { freePort } from '../helpers/ports.ts';
import { useWorld } from '../helpers/world.ts';

// --- a small reader for what nodemailer sends (headers, encoded words, multipart/alternative) ---

interface Entity { headers: Map<string, string>; body: string }

function splitEntity(raw: string): Entity {
  const at = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, at).replace(/\r\n[ \t]+/g, ' ');
  const headers = new Map<string, string>();
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { headers, body: raw.slice(at + 4) };
}

function decodeQuotedPrintable(text: string): string {
  const flat = text.replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < flat.length; i++) {
    const hex = flat.slice(i + 1, i + 3);
    if (flat[i] === '=' && /^[0-9A-F]{2}$/i.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(flat[i]!, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** RFC 2047 encoded words (adjacent words join without the space between them). */
const decodeWords = (value: string) =>
  value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?[^?]+\?([bq])\?([^?]*)\?=/gi, (_, enc: string, data: string) =>
      enc.toLowerCase() === 'b' ? Buffer.from(data, 'base64').toString('utf8') : decodeQuotedPrintable(data.replace(/_/g, ' ')),
    );

function decodeBody(entity: Entity): string {
  const encoding = (entity.headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  const body = encoding === 'base64' ? Buffer.from(entity.body.replace(/\s+/g, ''), 'base64').toString('utf8') : encoding === 'quoted-printable' ? decodeQuotedPrintable(entity.body) : entity.body;
  return body.replace(/\r\n/g, '\n');
}

interface ReadMail { headers: Map<string, string>; text: string; html: string }

function readMail(raw: string): ReadMail {
  const top = splitEntity(raw);
  const headers = new Map([...top.headers].map(([k, v]) => [k, decodeWords(v)]));
  const boundary = /boundary="?([^";]+)"?/.exec(top.headers.get('content-type') ?? '')?.[1];
  if (!boundary) throw new Error(`expected a multipart mail, got ${top.headers.get('content-type')}`);
  const parts = top.body
    .split(`--${boundary}`)
    .slice(1, -1)
    .map((p) => splitEntity(p.replace(/^\r\n/, '')));
  const of = (type: string) => {
    const part = parts.find((p) => (p.headers.get('content-type') ?? '').startsWith(type));
    if (!part) throw new Error(`no ${type} part`);
    return decodeBody(part).replace(/\n$/, '');
  };
  return { headers, text: of('text/plain'), html: of('text/html') };
}

// --- the SMTP server ---

interface Received { mailFrom: string; rcptTo: string[]; raw: string }
const received: Received[] = [];
const rcptAttempts: string[] = [];
const smtpError = (message: string, responseCode: number) => Object.assign(new Error(message), { responseCode });
const recipientsOf = (session: SMTPServerSession) => session.envelope.rcptTo.map((r) => r.address);

const smtp = new SMTPServer({
  disabledCommands: ['STARTTLS'], // its built-in certificate has expired
  authOptional: true,
  disableReverseLookup: true,
  logger: false,
  onRcptTo(address, _session, callback) {
    rcptAttempts.push(address.address);
    const local = address.address.split('@')[0];
    if (local === 'busy') return callback(smtpError('Mailbox busy, try again later', 451));
    if (local === 'nobody') return callback(smtpError('No such user here', 550));
    callback();
  },
  onData(stream, session, callback) {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      if (recipientsOf(session).some((a) => a.startsWith('spamtrap@'))) return callback(smtpError('Message refused as spam', 554));
      received.push({ mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', rcptTo: recipientsOf(session), raw: Buffer.concat(chunks).toString('utf8') });
      callback(null, 'Queued');
    });
  },
});

const world = useWorld([1, 2]);
let accountId: number;
let otherAccountId: number;
let smtpUrl: string;
let channel: ReturnType<typeof emailChannel>;
const accountName = 'Smith & Sons <Plumbing>';
const from = 'Onelink Alerts <alerts@onelink.test>';

beforeAll(async () => {
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  // Plain SMTP on loopback: no TLS upgrade (see the server's options).
  smtpUrl = `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}?ignoreTLS=true`;
  const db = world.t.db.knex;
  accountId = (await signInAgent(world.t, world.chatwoot, 1, 'administrator')).accountId;
  otherAccountId = (await signInAgent(world.t, world.chatwoot, 2, 'administrator')).accountId;
  await withAccount(db, accountId, { readOnly: false }, async (trx) => {
    await trx('accounts').where({ account_id: accountId }).update({ name: accountName });
    await trx('notification_settings').insert({ account_id: accountId, email_reply_to: 'Office@Smith.example' });
  });
  channel = emailChannel({ smtpUrl, from, db });
});
afterAll(async () => {
  channel?.close();
  await new Promise<void>((resolve) => smtp.close(resolve));
});
beforeEach(() => {
  received.length = 0;
  rcptAttempts.length = 0;
});

const delivery = (over: Partial<OutgoingDelivery> = {}): OutgoingDelivery => ({
  id: randomUUID(),
  accountId,
  event: 'staff.job_assigned_to_me',
  channel: 'email',
  recipient: { kind: 'user', id: randomUUID(), name: 'Dana Dispatcher' },
  address: 'dana@example.com',
  message: {
    title: 'Job J-12 — "Leak" <urgent> & more',
    body: 'Kitchen <b>sink</b> leaks\nsince Monday.\n\nCall before 5 & bring parts.',
    url: 'https://onelink.test/app/jobs/12?tab=info&from=mail',
    link: { resource_type: 'job', resource_id: '12' },
  },
  attempts: 0,
  ...over,
});

describe('the e-mail channel', () => {
  it('is unavailable, saying why, when SMTP_URL is not set', async () => {
    const off = emailChannel({ smtpUrl: undefined, from: undefined, db: world.t.db.knex });
    expect(await off.unavailable(world.t.db.knex, accountId)).toBe('E-mail is off: SMTP_URL is not set');
    expect(await off.send(delivery())).toEqual({ outcome: 'failed', reason: 'E-mail is off: SMTP_URL is not set' });
    off.close();
    expect(await channel.unavailable(world.t.db.knex, accountId)).toBeNull();
  });

  it('sends plain text and escaped HTML, from the configured sender, replying to the account’s address', async () => {
    const d = delivery();
    const result = await channel.send(d);
    expect(result).toEqual({ outcome: 'sent', providerId: expect.stringMatching(/^<.+@.+>$/) });
    expect(received).toHaveLength(1);
    const [mail] = received;
    expect(mail!.rcptTo).toEqual(['dana@example.com']);
    expect(mail!.mailFrom).toBe('alerts@onelink.test');

    const { headers, text, html } = readMail(mail!.raw);
    expect(headers.get('subject')).toBe('Job J-12 — "Leak" <urgent> & more');
    expect(headers.get('from')).toBe('Onelink Alerts <alerts@onelink.test>');
    expect(headers.get('to')).toBe('Dana Dispatcher <dana@example.com>');
    expect(headers.get('reply-to')).toBe('Office@smith.example') // nodemailer lower-cases the domain;
    expect(headers.get('x-onelink-delivery')).toBe(d.id);
    expect(headers.get('message-id')).toBe(result.outcome === 'sent' ? result.providerId : null);

    expect(text).toBe(
      [
        'A job was put in your hands.',
        'Kitchen <b>sink</b> leaks\nsince Monday.\n\nCall before 5 & bring parts.',
        'Open the job: https://onelink.test/app/jobs/12?tab=info&from=mail',
        '-- \nSmith & Sons <Plumbing> · Onelink. Choose which e-mails you get in your notification settings.\n',
      ].join('\n\n'),
    );

    expect(html).toContain('<h1 style="margin:0 0 16px;font-size:20px;line-height:1.3">Job J-12 — &quot;Leak&quot; &lt;urgent&gt; &amp; more</h1>');
    expect(html).toContain('>Kitchen &lt;b&gt;sink&lt;/b&gt; leaks<br>since Monday.</p>');
    expect(html).toContain('>Call before 5 &amp; bring parts.</p>');
    expect(html).toContain('<a href="https://onelink.test/app/jobs/12?tab=info&amp;from=mail"');
    expect(html).toContain('>Open the job</a>');
    expect(html).toContain('Smith &amp; Sons &lt;Plumbing&gt; · Onelink.');
    expect(html).not.toContain('<b>');
    expect(html).not.toContain('<urgent>');
  });

  it('sends a client the account’s customer text, and leaves the link out when there is none', async () => {
    const d = delivery({
      event: 'client.visit_scheduled',
      recipient: { kind: 'contact', id: '77', name: null },
      address: 'pat@example.org',
      message: { title: 'Your visit', body: 'Visit scheduled (staff wording)', url: null, link: null, customerText: 'Hi Pat, we will come on Tuesday between 9 and 11.' },
    });
    expect(await channel.send(d)).toMatchObject({ outcome: 'sent' });
    const { headers, text, html } = readMail(received[0]!.raw);
    expect(headers.get('to')).toBe('pat@example.org');
    expect(text).toContain('Hi Pat, we will come on Tuesday between 9 and 11.');
    expect(text).not.toContain('staff wording');
    expect(text).toContain('about your request with Smith & Sons <Plumbing>');
    expect(html).toContain('Your visit is scheduled.');
    expect(html).not.toContain('<a ');
  });

  it('uses the default sender and no reply-to in an account without notification settings', async () => {
    const plain = emailChannel({ smtpUrl, from: undefined, db: world.t.db.knex });
    try {
      expect(await plain.send(delivery({ accountId: otherAccountId }))).toMatchObject({ outcome: 'sent' });
    } finally {
      plain.close();
    }
    const { headers, text } = readMail(received[0]!.raw);
    expect(received[0]!.mailFrom).toBe('notifications@localhost');
    expect(headers.get('from')).toBe('Onelink <notifications@localhost>');
    expect(headers.has('reply-to')).toBe(false);
    const name = (await world.t.db.knex('accounts').where({ account_id: otherAccountId }).first('name')).name as string;
    expect(text).toContain(`-- \n${name} · Onelink.`);
  });

  it('asks for a retry when the server defers the recipient (451), once per attempt', async () => {
    const result = await channel.send(delivery({ address: 'busy@example.com' }));
    expect(result).toMatchObject({ outcome: 'retry', reason: expect.stringMatching(/451.*Mailbox busy, try again later/) });
    expect(rcptAttempts).toEqual(['busy@example.com']);
    expect(received).toEqual([]);
  });

  it('fails for good when the server refuses the recipient (550), without trying again', async () => {
    const result = await channel.send(delivery({ address: 'nobody@example.com' }));
    expect(result).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/550.*No such user here/) });
    expect(rcptAttempts).toEqual(['nobody@example.com']);
    expect(received).toEqual([]);
  });

  it('fails for good when the server refuses the message itself (554)', async () => {
    const result = await channel.send(delivery({ address: 'spamtrap@example.com' }));
    expect(result).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/554.*Message refused as spam/) });
    expect(received).toEqual([]);
  });

  it('asks for a retry when the server cannot be reached', async () => {
    const nowhere = emailChannel({ smtpUrl: `smtp://127.0.0.1:${await freePort()}?ignoreTLS=true`, from, db: world.t.db.knex });
    try {
      expect(await nowhere.send(delivery())).toMatchObject({ outcome: 'retry', reason: expect.stringContaining('Could not talk to the SMTP server') });
    } finally {
      nowhere.close();
    }
  });

  it('fails without calling the server when the address is missing or not an address', async () => {
    expect(await channel.send(delivery({ address: null }))).toEqual({ outcome: 'failed', reason: 'No e-mail address for this recipient' });
    expect(await channel.send(delivery({ address: 'not an address' }))).toMatchObject({ outcome: 'failed' });
    expect(rcptAttempts).toEqual([]);
  });
});

describe('the e-mail templates', () => {
  it('render every event of the catalogue with its own opening line', () => {
    const intros = new Set<string>();
    for (const event of eventNames) {
      const mail = renderEmail({ event, message: { title: `About ${event}`, body: 'Details.', url: 'https://onelink.test/x', link: null } }, 'Acme');
      const intro = mail.text.split('\n\n')[0]!;
      expect(intro.length, event).toBeGreaterThan(5);
      expect(mail.html, event).toContain(`>About ${event}</h1>`);
      intros.add(`${event.split('.')[0]}:${intro}`);
    }
    expect(intros.size).toBe(eventNames.length);
  });

  it('never turns a stored url into a script link', () => {
    const mail = renderEmail({ event: 'staff.task_overdue', message: { title: 'Overdue', body: 'Late.', url: 'javascript:alert(1)', link: null } }, 'Acme');
    expect(mail.html).not.toContain('javascript:');
    expect(mail.text).not.toContain('javascript:');
  });

  it('keeps line breaks out of the subject', () => {
    const mail = renderEmail({ event: 'staff.task_overdue', message: { title: 'Overdue\r\nBcc: victim@example.com', body: 'Late.', url: null, link: null } }, 'Acme');
    expect(mail.subject).toBe('Overdue Bcc: victim@example.com');
  });
});

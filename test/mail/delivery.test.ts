// Mail end to end against a real SMTP server on 127.0.0.1: what arrives (both parts, the
// brand escaped in HTML, the headers, nothing secret but the link), SMTPS with a private CA
// and AUTH, a restart while the server was down, two workers on one PostgreSQL, no link in
// clear in the database, and the give-up after 48 hours.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { buildServer } from '../../src/server.js';
import { loggerOptions } from '../../src/logger.js';
import type { MailRequest } from '../../src/mail/messages.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { outboxAad } from '../../src/mail/outbox.js';
import { servicesOf, testConfig, uniqueEmail, TEST_MASTER_KEY } from '../helpers/build.js';
import { captureLogs } from '../audit/helpers.js';
import { linkFrom, startSmtp } from '../helpers/smtp.js';

const ISSUER = 'http://localhost:3000';
const onPostgres = Boolean(process.env.TEST_DATABASE_URL);

async function start(t: Pick<TestContext, 'after'>, env: Record<string, string>) {
  const logs = captureLogs();
  const config = await testConfig({ KEY_SYNC_INTERVAL: '300', SMTP_TIMEOUT_MS: '2000', ...env });
  const app = await buildServer(config, { logger: loggerOptions('debug', { stream: logs.stream }) });
  await app.ready();
  const services = servicesOf(app, config);
  t.after(() => services.close());
  return { app, services, config, logs };
}

type Started = Awaited<ReturnType<typeof start>>;

const token = () => randomBytes(32).toString('base64url');

function queue(services: Started['services'], mail: MailRequest) {
  return services.db.transaction((tx) => services.mail.queue(tx, mail));
}

async function outbox(services: Started['services']) {
  return services.db.query<{
    id: string;
    kind: string;
    message: string;
    attempts: number;
    last_error: string | null;
    next_attempt_at: Date;
    claimed_until: Date | null;
  }>('SELECT * FROM mail_outbox ORDER BY created_at');
}

async function clearOutbox(services: Started['services']) {
  await services.db.query('DELETE FROM mail_outbox');
}

test('a mail arrives over SMTP: two parts, the brand escaped in HTML, the headers, no secret but the link', async (t) => {
  const smtp = await startSmtp();
  t.after(() => smtp.stop());
  const { services, logs } = await start(t, {
    SMTP_URL: smtp.url(),
    BRAND_NAME: '<b>Acme & Co</b>',
    MAIL_FROM: 'Acme Accounts <accounts@acme.test>',
  });
  const to = uniqueEmail('reset');
  const secret = token();
  const link = `${ISSUER}/reset-password?token=${secret}`;
  await queue(services, { to, kind: 'password_reset', link, expiresInMinutes: 30 });

  const mail = await smtp.waitFor(to, { kind: 'password_reset' });
  assert.equal(mail.subject, 'Reset your <b>Acme & Co</b> password');
  assert.equal(linkFrom(mail), link);
  // HTML: the brand only escaped, the link in the button and as text.
  assert.match(mail.html, /&lt;b&gt;Acme &amp; Co&lt;\/b&gt;/);
  assert.doesNotMatch(mail.html, /<b>Acme/);
  assert.ok(mail.html.includes(`href="${link}"`));
  assert.match(mail.html, /expires in 30 minutes/);
  // Plain text: the brand as it is, and no markup of ours.
  assert.ok(mail.text.includes('your <b>Acme & Co</b> account'));
  assert.doesNotMatch(mail.text, /<(p|a|html|table|span|br)\b|&amp;|&lt;/);
  assert.match(mail.text, /The link expires in 30 minutes\./);
  // Headers.
  const from = mail.headers.get('from') as { value: { address: string; name: string }[] };
  assert.deepEqual(from.value, [{ address: 'accounts@acme.test', name: 'Acme Accounts' }]);
  assert.equal(mail.from, 'accounts@acme.test');
  assert.equal(mail.headers.get('auto-submitted'), 'auto-generated');
  const messageId = mail.headers.get('message-id') as string;
  assert.match(messageId, /^<[0-9a-f-]{36}@localhost>$/);
  // Nothing secret but the link: the token appears only inside it; no key, no other URL.
  const raw = mail.raw.replace(/=\r?\n/g, '');
  assert.ok(!raw.includes(TEST_MASTER_KEY));
  const urls = new Set(mail.text.match(/https?:\/\/\S+/g));
  assert.deepEqual([...urls], [link]);
  // Delivered: the row is gone, and the log names neither the address nor the link.
  await waitUntil(async () => (await outbox(services)).length === 0);
  const sent = logs.records().find((r) => r.event === 'mail_sent');
  assert.ok(sent && sent.kind === 'password_reset' && `<${String(sent.mail_id)}@localhost>` === messageId);
  assert.ok(!logs.lines.some((l) => l.includes(secret) || l.includes(to)));
});

test('the outbox holds no address and no link in clear, and a row moved to another id does not open', async (t) => {
  const smtp = await startSmtp();
  t.after(() => smtp.stop());
  smtp.refuse(Infinity);
  const { services } = await start(t, { SMTP_URL: smtp.url() });
  await clearOutbox(services);
  const to = uniqueEmail('clear');
  const secret = token();
  await queue(services, {
    to,
    kind: 'verify_email',
    link: `${ISSUER}/verify-email?token=${secret}`,
    expiresInMinutes: 1440,
  });
  await services.mailDelivery.runOnce();
  const rows = await outbox(services);
  assert.equal(rows.length, 1);
  const dump = JSON.stringify(await services.db.query('SELECT * FROM mail_outbox'));
  assert.ok(!dump.includes(secret), 'the token is not stored in clear');
  assert.ok(!dump.includes(to), 'the address is not stored in clear');
  assert.ok(!dump.includes('verify-email'), 'the link is not stored in clear');
  assert.equal(rows[0]!.kind, 'verify_email');
  // What the box sealed opens only under its own row's id.
  const box = services.box;
  assert.equal(JSON.parse(box.open(rows[0]!.message, outboxAad(rows[0]!.id)).toString()).to, to);
  assert.throws(() => box.open(rows[0]!.message, outboxAad('00000000-0000-4000-8000-000000000000')));
  // Refused by SMTP: counted, retried later, the reason kept.
  assert.equal(rows[0]!.attempts, 1);
  assert.equal(rows[0]!.last_error, 'EMESSAGE SMTP 451');
  assert.equal(rows[0]!.claimed_until, null);
  const wait = (new Date(rows[0]!.next_attempt_at).getTime() - Date.now()) / 1000;
  assert.ok(wait > 20 && wait <= 31, `retry in about 30 s, not ${wait}`);
});

test('queue refuses a link that is not under ISSUER, and a request that could never be sent', async (t) => {
  const { services } = await start(t, {});
  await clearOutbox(services);
  const to = uniqueEmail('refused');
  const bad: MailRequest[] = [
    { to, kind: 'password_reset', link: 'https://evil.example/reset?token=x', expiresInMinutes: 30 },
    { to, kind: 'password_reset', link: 'http://localhost:3000.evil.example/reset', expiresInMinutes: 30 },
    { to, kind: 'password_reset', link: 'http://user@localhost:3000/reset', expiresInMinutes: 30 },
    { to, kind: 'password_reset', link: 'javascript:alert(1)', expiresInMinutes: 30 },
    { to, kind: 'password_reset', link: `${ISSUER}/reset` }, // no lifetime
    { to, kind: 'password_changed', link: `${ISSUER}/x` }, // a link where none belongs
    { to: 'a@b.test\r\nBcc: victim@example.com', kind: 'password_changed' },
    { to: 'Name <a@b.test>', kind: 'password_changed' },
    { to, kind: 'nonsense' as MailRequest['kind'] },
  ];
  for (const mail of bad) {
    await assert.rejects(queue(services, mail), Error, JSON.stringify(mail));
  }
  assert.equal((await outbox(services)).length, 0);
});

test('SMTPS with a private CA (SMTP_CA_FILE) and AUTH; a wrong password is retried, never logged or stored', async (t) => {
  const smtp = await startSmtp({ tls: 'implicit', auth: { user: 'tessera@relay', pass: 'relay-pass:w/ord' } });
  t.after(() => smtp.stop());

  // The right password: delivered over verified TLS, as that user.
  const good = await start(t, { SMTP_URL: smtp.url(), ...smtp.env });
  await clearOutbox(good.services);
  const to = uniqueEmail('smtps');
  await queue(good.services, { to, kind: 'password_changed' });
  const mail = await smtp.waitFor(to, { kind: 'password_changed' });
  assert.equal(mail.user, 'tessera@relay');
  await good.services.close();

  // A wrong password: not delivered, retried later, the reason without the password.
  const wrongPass = 'Wrong-Pass-93';
  const wrong = await start(t, {
    SMTP_URL: smtp.url({ user: 'tessera@relay', pass: wrongPass }),
    ...smtp.env,
  });
  const victim = uniqueEmail('wrong-pass');
  await queue(wrong.services, { to: victim, kind: 'account_deleted' });
  assert.equal(await wrong.services.mailDelivery.runOnce(), 0);
  await waitUntil(() => smtp.authFailures > 0);
  const [row] = await outbox(wrong.services);
  assert.ok(row);
  assert.equal(row.attempts, 1);
  assert.equal(row.last_error, 'EAUTH SMTP 535');
  assert.ok(!smtp.received.some((m) => m.to.includes(victim)));
  const everything =
    JSON.stringify(await wrong.services.db.query('SELECT * FROM mail_outbox')) + wrong.logs.lines.join('\n');
  assert.ok(!everything.includes(wrongPass) && !everything.includes('relay-pass'));
  assert.ok(wrong.logs.records().some((r) => r.event === 'mail_retry' && r.reason === 'EAUTH SMTP 535'));
});

test('certificates are verified: without SMTP_CA_FILE the self-signed server is refused', async (t) => {
  const smtp = await startSmtp({ tls: 'implicit' });
  t.after(() => smtp.stop());
  const { services } = await start(t, { SMTP_URL: smtp.url() });
  await clearOutbox(services);
  const to = uniqueEmail('untrusted');
  await queue(services, { to, kind: 'password_changed' });
  await services.mailDelivery.runOnce();
  const [row] = await outbox(services);
  assert.equal(row?.attempts, 1);
  assert.match(row.last_error ?? '', /^E[A-Z]+/);
  assert.equal(smtp.received.length, 0);
});

test('STARTTLS with requireTLS and the private CA', async (t) => {
  const smtp = await startSmtp({ tls: 'starttls', auth: { user: 'u', pass: 'p' } });
  t.after(() => smtp.stop());
  assert.match(smtp.url(), /^smtp:\/\/.*\?requireTLS=true$/);
  const { services } = await start(t, { SMTP_URL: smtp.url(), ...smtp.env });
  await clearOutbox(services);
  const to = uniqueEmail('starttls');
  await queue(services, {
    to,
    kind: 'invitation',
    link: `${ISSUER}/invitation?token=${token()}`,
    expiresInMinutes: 10080,
  });
  const mail = await smtp.waitFor(to, { kind: 'invitation' });
  assert.match(mail.text, /expires in 7 days/);
});

test('queued while the SMTP server is down, delivered exactly once by a new app on the same database', async (t) => {
  const smtp = await startSmtp();
  t.after(() => smtp.stop());
  await smtp.stop();
  const first = await start(t, { SMTP_URL: smtp.url() });
  await clearOutbox(first.services);
  const to = uniqueEmail('restart');
  const link = `${ISSUER}/verify-email?token=${token()}`;
  await queue(first.services, { to, kind: 'verify_email', link, expiresInMinutes: 60 });
  await first.services.mailDelivery.runOnce();
  const [row] = await outbox(first.services);
  assert.equal(row?.attempts, 1);
  assert.match(row.last_error ?? '', /ECONNECTION|ESOCKET|ECONNREFUSED/);
  await first.services.close();

  await smtp.restart();
  // The retry is due now (as if its 30 s had passed).
  const second = await start(t, { SMTP_URL: smtp.url(), MAIL_POLL_INTERVAL_MS: '50' });
  await second.services.db.query('UPDATE mail_outbox SET next_attempt_at = now()');
  const mail = await smtp.waitFor(to, { kind: 'verify_email' });
  assert.equal(linkFrom(mail), link);
  assert.equal(mail.headers.get('message-id'), `<${row.id}@localhost>`);
  // A few more polls: nothing is sent again.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(smtp.received.filter((m) => m.to.includes(to)).length, 1);
  assert.equal((await outbox(second.services)).length, 0);
});

test('a claim of a crashed instance is taken over when its lease ends, not before', async (t) => {
  const smtp = await startSmtp();
  t.after(() => smtp.stop());
  const { services } = await start(t, { SMTP_URL: smtp.url(), MAIL_POLL_INTERVAL_MS: '60000' });
  await clearOutbox(services);
  const to = uniqueEmail('lease');
  // Queued outside the app's outbox (no nudge), then claimed by "another instance".
  const { MailOutbox } = await import('../../src/mail/outbox.js');
  await services.db.transaction((tx) => new MailOutbox(services.box).queue(tx, { to, kind: 'password_changed' }));
  await services.db.query(`UPDATE mail_outbox SET claimed_until = now() + interval '5 minutes'`);
  assert.equal(await services.mailDelivery.runOnce(), 0);
  assert.equal(smtp.received.length, 0);
  await services.db.query(`UPDATE mail_outbox SET claimed_until = now() - interval '1 second'`);
  assert.equal(await services.mailDelivery.runOnce(), 1);
  await smtp.waitFor(to);
  assert.equal((await outbox(services)).length, 0);
});

test(
  'a burst: 50 mails, two apps on one PostgreSQL, each mail delivered exactly once',
  { skip: onPostgres ? false : 'PGlite is one process: two instances need PostgreSQL' },
  async (t) => {
    const smtp = await startSmtp();
    t.after(() => smtp.stop());
    const env = { SMTP_URL: smtp.url(), MAIL_POLL_INTERVAL_MS: '50' };
    const a = await start(t, env);
    const b = await start(t, env);
    await clearOutbox(a.services);
    const recipients = Array.from({ length: 50 }, () => uniqueEmail('burst'));
    await Promise.all(
      recipients.map((to, i) => queue(i % 2 ? a.services : b.services, { to, kind: 'password_changed' })),
    );
    // Both workers' own passes, and explicit ones overlapping them.
    const passes = await Promise.all([
      a.services.mailDelivery.runOnce(),
      b.services.mailDelivery.runOnce(),
      a.services.mailDelivery.runOnce(),
      b.services.mailDelivery.runOnce(),
    ]);
    await waitUntil(async () => (await outbox(a.services)).length === 0, 15_000);
    await new Promise((r) => setTimeout(r, 300));
    const burst = smtp.received.filter((m) => recipients.includes(m.to[0]!));
    assert.equal(burst.length, 50, `received ${burst.length}`);
    assert.deepEqual(new Set(burst.map((m) => m.to[0])).size, 50);
    assert.equal(new Set(burst.map((m) => m.headers.get('message-id'))).size, 50);
    assert.ok(passes.reduce((x, y) => x + y, 0) <= 50);
  },
);

test('after 48 hours a mail is given up on: deleted, audited as mail_undeliverable, logged', async (t) => {
  const smtp = await startSmtp();
  t.after(() => smtp.stop());
  smtp.refuse(Infinity);
  const { services, logs } = await start(t, { SMTP_URL: smtp.url(), MAIL_POLL_INTERVAL_MS: '60000' });
  await clearOutbox(services);
  const to = uniqueEmail('give-up');
  await queue(services, { to, kind: 'password_changed' });
  await services.mailDelivery.runOnce();
  assert.equal((await outbox(services))[0]?.attempts, 1);
  // Younger than 48 hours: retried, not given up.
  await services.db.query(`UPDATE mail_outbox SET created_at = now() - interval '47 hours', next_attempt_at = now()`);
  await services.mailDelivery.runOnce();
  assert.equal((await outbox(services))[0]?.attempts, 2);

  await services.db.query(`UPDATE mail_outbox SET created_at = now() - interval '49 hours', next_attempt_at = now()`);
  const [row] = await outbox(services);
  await services.mailDelivery.runOnce();
  assert.equal((await outbox(services)).length, 0);
  const events = await services.db.query<{ type: string; outcome: string; target: string; detail: unknown }>(
    `SELECT type, outcome, target, detail FROM security_events WHERE type = 'mail_undeliverable'`,
  );
  assert.equal(events.length, 1);
  assert.equal(events[0]!.outcome, 'failure');
  assert.equal(events[0]!.target, row!.id);
  assert.deepEqual(events[0]!.detail, { kind: 'password_changed', attempts: 3, reason: 'EMESSAGE SMTP 451' });
  assert.ok(!JSON.stringify(events).includes(to));
  const warning = logs.records().find((r) => r.event === 'mail_undeliverable');
  assert.equal(warning?.level, 40);
  assert.ok(!logs.lines.some((l) => l.includes(to)));
  assert.equal(smtp.received.length, 0);
});

test('a row that does not open (sealed under another master key) is retried, then given up on', async (t) => {
  const smtp = await startSmtp();
  t.after(() => smtp.stop());
  const { services } = await start(t, { SMTP_URL: smtp.url(), MAIL_POLL_INTERVAL_MS: '60000' });
  await clearOutbox(services);
  const other = SecretBox.fromKey(randomBytes(32));
  const id = '7a3f4b2e-1c9d-4e8f-a6b5-0d2c3e4f5a6b';
  const message = other.seal(JSON.stringify({ to: uniqueEmail('lost'), kind: 'password_changed' }), outboxAad(id));
  await services.db.query(`INSERT INTO mail_outbox (id, kind, message) VALUES ($1, 'password_changed', $2)`, [
    id,
    message,
  ]);
  assert.equal(await services.mailDelivery.runOnce(), 0);
  const [row] = await outbox(services);
  assert.equal(row?.attempts, 1);
  assert.equal(row.last_error, 'cannot open or render the sealed message');
  await services.db.query(`UPDATE mail_outbox SET created_at = now() - interval '49 hours', next_attempt_at = now()`);
  await services.mailDelivery.runOnce();
  assert.equal((await outbox(services)).length, 0);
  const [event] = await services.db.query<{ detail: Record<string, unknown> }>(
    `SELECT detail FROM security_events WHERE type = 'mail_undeliverable' AND target = $1`,
    [id],
  );
  assert.deepEqual(event?.detail, {
    kind: 'password_changed',
    attempts: 2,
    reason: 'cannot open or render the sealed message',
  });
  assert.equal(smtp.received.length, 0);
});

test('a server that never answers costs one SMTP_TIMEOUT_MS, not the other mails or the shutdown', async (t) => {
  // Accepts the connection and says nothing: no greeting ever comes.
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    silent.close();
  });
  const { port } = silent.address() as { port: number };
  const { services } = await start(t, {
    SMTP_URL: `smtp://127.0.0.1:${port}`,
    SMTP_TIMEOUT_MS: '300',
    MAIL_POLL_INTERVAL_MS: '60000',
  });
  await clearOutbox(services);
  await Promise.all(
    Array.from({ length: 7 }, () => queue(services, { to: uniqueEmail('silent'), kind: 'password_changed' })),
  );
  const started = Date.now();
  await services.mailDelivery.runOnce();
  await services.mailDelivery.runOnce();
  const rows = await outbox(services);
  assert.equal(rows.length, 7);
  for (const row of rows) {
    assert.equal(row.attempts, 1);
    assert.match(row.last_error ?? '', /ETIMEDOUT/);
  }
  // Two batches of up to five at once, each bounded by the greeting timeout.
  assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  const closing = Date.now();
  await services.close();
  assert.ok(Date.now() - closing < 2000);
});

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

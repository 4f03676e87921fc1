// Breached passwords by k-anonymity (BREACHED_PASSWORDS_URL) against a range server on
// 127.0.0.1: a listed password is refused wherever a password is chosen (the API and the
// hosted reset page), only the SHA-1's five-character prefix leaves the service, a lookup
// that fails lets the password through with a warning and a count, padding is ignored.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it, type TestContext } from 'node:test';
import { build, GOOD_PASSWORD, registerAndLogin, uniqueEmail, userWithRoles, type Built } from '../helpers/build.js';
import { parseForms } from '../helpers/html-agent.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';
import { logCapture } from '../faults/processes.js';
import { loggerOptions } from '../../src/logger.js';
import { register, tokenFrom } from './helpers.js';
import { sha1Hex, startRangeServer, type RangeServer } from './range-server.js';

const BREACHED = 'monkey-trombone-sunset-1987';
const CLEAN = 'velvet-harbor-quartz-5521';
const BREACH_TEXT = 'The password has appeared in a data breach: choose another';
// Long enough for a cold first lookup on a busy machine (the embedded database shares the event loop).
const TIMEOUT_MS = 1500;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' } as const;

describe('breached passwords', () => {
  let range: RangeServer;
  let smtp: TestSmtp;
  let built: Built;
  const logs = logCapture();
  const closers: Array<() => Promise<void>> = [];
  const collect = ((fn: () => Promise<void>) => void closers.push(fn)) as unknown as TestContext['after'];

  before(async () => {
    range = await startRangeServer();
    smtp = await startSmtp();
    range.list(BREACHED, 3861);
    built = await build(
      { after: collect },
      {
        BREACHED_PASSWORDS_URL: range.url,
        BREACHED_PASSWORDS_TIMEOUT_MS: String(TIMEOUT_MS),
        SMTP_URL: smtp.url(),
        MAIL_POLL_INTERVAL_MS: '50',
      },
      { logger: loggerOptions('warn', { stream: logs.stream }) },
    );
  });
  // A test that failed midway must not leave the next one a hanging server.
  beforeEach(() => {
    range.mode = 'answer';
  });
  after(async () => {
    for (const close of closers.reverse()) await close();
    await smtp.stop();
    await range.stop();
  });

  const checks = async (result: 'breached' | 'clean' | 'error'): Promise<number> => {
    const { body } = await built.app.metrics.render();
    const line = new RegExp(`^tessera_breached_password_checks_total\\{result="${result}"\\} (\\d+)$`, 'm');
    return Number(line.exec(body)?.[1] ?? 0);
  };
  const usersWith = async (email: string) =>
    (await built.services.db.query('SELECT 1 FROM users WHERE email = $1', [email])).length;
  const passwordHash = async (email: string) =>
    (
      await built.services.db.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE email = $1', [
        email,
      ])
    )[0]!.password_hash;
  const assertBreachRefusal = (res: { statusCode: number; json<T>(): T; body: string }, what: string) => {
    assert.equal(res.statusCode, 400, `${what}: ${res.body}`);
    assert.deepEqual(res.json(), { error: 'weak_password', error_description: BREACH_TEXT }, what);
  };
  const mailReset = async (email: string) => {
    const asked = await built.app.inject({ method: 'POST', url: '/users/password-reset', payload: { email } });
    assert.equal(asked.statusCode, 202, asked.body);
    return tokenFrom(smtp, email, 'password_reset');
  };
  const confirmReset = (token: string, password: string) =>
    built.app.inject({ method: 'POST', url: '/users/password-reset/confirm', payload: { token, password } });

  it('a breached password is refused at registration, password change, reset and admin creation', async () => {
    const { app } = built;
    const breachedBefore = await checks('breached');

    // Registration: refused, and no account is made.
    const newcomer = uniqueEmail('breached-reg');
    assertBreachRefusal(await register(app, newcomer, BREACHED), 'registration');
    assert.equal(await usersWith(newcomer), 0);

    // Password change: refused, the hash stays.
    const member = await registerAndLogin(app);
    const hashBefore = await passwordHash(member.email);
    const change = await app.inject({
      method: 'POST',
      url: '/users/me/password',
      headers: { authorization: `Bearer ${member.tokens.access_token}` },
      payload: { current_password: GOOD_PASSWORD, new_password: BREACHED },
    });
    assertBreachRefusal(change, 'password change');
    assert.equal(await passwordHash(member.email), hashBefore);

    // Reset over the API: refused, and the link still works.
    const token = await mailReset(member.email);
    assertBreachRefusal(await confirmReset(token, BREACHED), 'reset');

    // The hosted reset page shows the same refusal, on the form again.
    const page = await app.inject({ method: 'GET', url: `/account/password-reset/confirm?token=${token}` });
    assert.equal(page.statusCode, 200, page.body);
    const binding = page.cookies.find((c) => c.name === '__Host-tessera-browser')!;
    const [form] = parseForms(page.body, `${built.config.issuer}${page.raw.req.url}`).filter(
      (f) => f.method === 'post',
    );
    const fields = new URLSearchParams(form!.controls);
    fields.set('password', BREACHED);
    const hosted = await app.inject({
      method: 'POST',
      url: '/account/password-reset/confirm',
      headers: { ...FORM, origin: built.config.issuer, cookie: `${binding.name}=${binding.value}` },
      payload: fields.toString(),
    });
    assert.equal(hosted.statusCode, 400, hosted.body);
    assert.match(hosted.headers['content-type'] as string, /^text\/html/);
    assert.ok(hosted.body.includes(BREACH_TEXT), `the page says why: ${hosted.body}`);
    assert.match(hosted.body, /<h1>Choose a new password<\/h1>/, 'the form again');
    assert.equal(await passwordHash(member.email), hashBefore, 'neither reset changed the password');
    assert.equal((await confirmReset(token, CLEAN)).statusCode, 204, 'a refused password costs no link');

    // Admin creation: refused, no account.
    const admin = await userWithRoles(built, ['admin']);
    const made = uniqueEmail('breached-admin');
    const create = await app.inject({
      method: 'POST',
      url: '/admin/users',
      headers: admin.auth,
      payload: { email: made, password: BREACHED, roles: ['user'] },
    });
    assertBreachRefusal(create, 'admin creation');
    assert.equal(await usersWith(made), 0);

    assert.equal((await checks('breached')) - breachedBefore, 5, 'each refusal counted');

    // The local list still applies first: a common password is refused without a lookup.
    const seen = range.requests.length;
    const common = await register(app, uniqueEmail('common'), 'password1234');
    assert.equal(common.statusCode, 400);
    assert.deepEqual(common.json(), { error: 'weak_password', error_description: 'The password is too common' });
    assert.equal(range.requests.length, seen, 'no range lookup for a password the local policy refuses');
  });

  it('only the first five hex characters of the SHA-1 leave the service', async () => {
    const { app } = built;
    const password = 'lantern-meadow-copper-6410';
    const hex = sha1Hex(password);
    const seen = range.requests.length;
    const email = uniqueEmail('prefix');
    assert.equal((await register(app, email, password)).statusCode, 201);
    const token = await mailReset(email);
    assertBreachRefusal(await confirmReset(token, BREACHED), 'reset');

    const sent = range.requests.slice(seen);
    assert.deepEqual(
      sent.map((r) => `${r.method} ${r.url}`),
      [`GET /range/${hex.slice(0, 5)}`, `GET /range/${sha1Hex(BREACHED).slice(0, 5)}`],
      'one GET per lookup, the path ends in the 5-character prefix, no query',
    );
    for (const request of sent) {
      assert.equal(request.bodyBytes, 0, 'no body');
      assert.equal(request.headers['content-length'], undefined);
      assert.equal(request.headers['transfer-encoding'], undefined);
      const wire = JSON.stringify(request).toUpperCase();
      for (const secret of [password, BREACHED, hex.slice(5), sha1Hex(BREACHED).slice(5), email]) {
        assert.ok(!wire.includes(secret.toUpperCase()), 'neither the password, the rest of its hash nor the address');
      }
    }
  });

  it(
    'a range server that times out or fails lets the password through and counts it',
    { timeout: 30_000 },
    async () => {
      const { app } = built;
      const errorsBefore = await checks('error');
      const warnings = () =>
        logs.records().filter((r) => r.module === 'breached-passwords' && r.level === 40 && r.reason !== undefined);

      // A server that never answers: the listed password is accepted once the timeout passes.
      range.mode = 'hang';
      const started = Date.now();
      const slow = uniqueEmail('timeout');
      const res = await register(app, slow, BREACHED);
      const took = Date.now() - started;
      assert.equal(res.statusCode, 201, res.body);
      assert.ok(took >= TIMEOUT_MS - 20, `waited for the timeout (${took} ms)`);
      assert.ok(took < TIMEOUT_MS + 3000, `and no longer (${took} ms)`);
      assert.equal(await usersWith(slow), 1);
      assert.equal((await checks('error')) - errorsBefore, 1);
      assert.deepEqual(
        warnings().map((r) => r.reason),
        ['timeout'],
      );

      // A 500, a redirect (never followed) and a body that is no range: the same.
      for (const [mode, reason] of [
        ['fail', 'status'],
        ['redirect', 'status'],
        ['malformed', 'malformed'],
        ['huge', 'too_large'],
      ] as const) {
        range.mode = mode;
        const email = uniqueEmail(mode);
        const accepted = await register(app, email, BREACHED);
        assert.equal(accepted.statusCode, 201, `${mode}: ${accepted.body}`);
        assert.equal(warnings().at(-1)?.reason, reason, mode);
      }
      range.mode = 'answer';
      assert.ok(!range.requests.some((r) => r.url.startsWith('/elsewhere/')), 'the redirect was not followed');
      assert.deepEqual(
        warnings().map((r) => [r.reason, r.status]),
        [
          ['timeout', undefined],
          ['status', 500],
          ['status', 302],
          ['malformed', undefined],
          ['too_large', undefined],
        ],
      );
      assert.equal((await checks('error')) - errorsBefore, 5, 'every failed lookup counted');

      // Nothing derived from the password in the log: not the password, its hash, nor its prefix.
      const hex = sha1Hex(BREACHED);
      assert.ok(!logs.text().includes(BREACHED));
      assert.ok(!logs.text().toUpperCase().includes(hex.slice(5)));
      for (const warning of warnings()) assert.ok(!JSON.stringify(warning).toUpperCase().includes(hex.slice(0, 5)));
      // The listed password is refused again once the server answers.
      assertBreachRefusal(await register(app, uniqueEmail('after'), BREACHED), 'after recovery');
    },
  );

  it('a clean password is accepted and padding entries are ignored', async () => {
    const { app } = built;
    // The password's own suffix is in the answer, as a padding entry (count 0).
    range.list(CLEAN, 0);
    const cleanBefore = await checks('clean');
    const seen = range.requests.length;
    const email = uniqueEmail('clean');
    const res = await register(app, email, CLEAN);
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(
      (await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: CLEAN } })).statusCode,
      200,
    );
    assert.equal((await checks('clean')) - cleanBefore, 1);
    const [request] = range.requests.slice(seen);
    assert.equal(request!.url, `/range/${sha1Hex(CLEAN).slice(0, 5)}`);
    assert.equal(request!.headers['add-padding'], 'true');
    assert.match(String(request!.headers['user-agent']), /tessera/i);
  });
});

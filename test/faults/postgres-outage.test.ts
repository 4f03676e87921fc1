// A PostgreSQL outage (a cluster this file owns, stopped with pg_ctl stop -m fast and
// started again): requests that need the database answer 503 with Retry-After quickly,
// the JWKS and discovery keep answering from memory, /readyz names the database, and
// everything recovers without restarting Tessera; no refresh token is burnt meanwhile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build, GOOD_PASSWORD, refresh, registerAndLogin, uniqueEmail } from '../helpers/build.js';
import { loggerOptions } from '../../src/logger.js';
import { eventually, logCapture, ownPostgres, postgresBin } from './processes.js';

const bin = postgresBin();
const skip = !bin && 'PostgreSQL binaries (initdb, pg_ctl) are not installed';

test(
  'PostgreSQL stopped and started again: 503 + Retry-After quickly, then recovery without restart',
  { skip },
  async (t) => {
    const pg = await ownPostgres(t, bin!);
    const logs = logCapture();
    const { app } = await build(
      t,
      { DATABASE_URL: pg.url, DATABASE_CONNECT_TIMEOUT_MS: '1000', DATABASE_STATEMENT_TIMEOUT_MS: '2000' },
      { logger: loggerOptions('info', { stream: logs.stream }) },
    );
    const { email, tokens } = await registerAndLogin(app);
    const other = await registerAndLogin(app, uniqueEmail('burst'));
    const login = (password = GOOD_PASSWORD) =>
      app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
    assert.equal((await app.inject({ url: '/readyz' })).statusCode, 200);

    await pg.stop();

    const started = Date.now();
    const during = await login();
    const took = Date.now() - started;
    assert.equal(during.statusCode, 503, during.body);
    assert.ok(took < 3000, `login took ${took} ms during the outage`);
    assert.equal(during.headers['retry-after'], '5');
    assert.deepEqual(Object.keys(during.json()).sort(), ['error', 'error_description']);
    assert.equal(during.json().error, 'temporarily_unavailable');
    assert.doesNotMatch(during.body, /ECONN|postgres|pg-pool|terminat|at .*\.ts/i);

    // A burst: every request answers 503 within the bound, none hangs, none is a 500.
    const burstStart = Date.now();
    const burst = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        i % 2 ? login('wrong-password-123') : refresh(app, other.tokens.refresh_token),
      ),
    );
    assert.deepEqual(
      burst.map((r) => r.statusCode),
      burst.map(() => 503),
    );
    assert.ok(Date.now() - burstStart < 3000, `burst took ${Date.now() - burstStart} ms`);

    // A refresh during the outage fails with 503; the token stays usable (below).
    const refreshDuring = await refresh(app, tokens.refresh_token);
    assert.equal(refreshDuring.statusCode, 503);
    assert.equal(refreshDuring.headers['retry-after'], '5');

    // Served from memory.
    const jwks = await app.inject({ url: '/.well-known/jwks.json' });
    assert.equal(jwks.statusCode, 200);
    assert.ok(jwks.json().keys.length > 0);
    assert.equal((await app.inject({ url: '/.well-known/openid-configuration' })).statusCode, 200);
    assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200);
    // The hosted pages' stylesheet too; a page that needs a stored authorization request does not.
    const css = await app.inject({ url: '/assets/tessera.css' });
    assert.equal(css.statusCode, 200);
    assert.match(String(css.headers['content-type']), /^text\/css/);

    const readyStart = Date.now();
    const ready = await app.inject({ url: '/readyz' });
    assert.equal(ready.statusCode, 503);
    assert.deepEqual(ready.json(), { status: 'unavailable', detail: 'database' });
    assert.ok(Date.now() - readyStart < 3000);

    // Logged as an outage at warn, with its cause; never as a failed request at error.
    const outage = logs.records().filter((r) => r.msg === 'dependency unavailable');
    assert.ok(outage.length >= 20, `${outage.length} outage lines`);
    assert.ok(outage.every((r) => r.level === 40));
    assert.match(String((outage[0]!.err as { type?: string }).type), /DatabaseUnavailableError/);
    assert.equal(logs.records().filter((r) => r.msg === 'request failed').length, 0);

    await pg.start();

    assert.ok(await eventually(async () => (await login()).statusCode === 200, 15_000), 'login did not recover');
    assert.equal((await app.inject({ url: '/readyz' })).statusCode, 200);
    assert.equal((await login('wrong-password-123')).statusCode, 401);

    // Neither the refresh attempted during the outage nor those of the burst burnt a token.
    const after = await refresh(app, tokens.refresh_token);
    assert.equal(after.statusCode, 200, after.body);
    assert.notEqual(after.json().refresh_token, tokens.refresh_token);
    const otherAfter = await refresh(app, other.tokens.refresh_token);
    assert.equal(otherAfter.statusCode, 200, otherAfter.body);
    // And the rotated token is the one that works now (the old one is spent, as always).
    assert.equal((await refresh(app, after.json().refresh_token)).statusCode, 200);
  },
);

test('a statement running past DATABASE_STATEMENT_TIMEOUT_MS is cancelled and answered 503', { skip }, async (t) => {
  const pg = await ownPostgres(t, bin!);
  const { services } = await build(t, { DATABASE_URL: pg.url, DATABASE_STATEMENT_TIMEOUT_MS: '300' });
  const { isDatabaseUnavailable } = await import('../../src/db/database.js');
  const { toWireError } = await import('../../src/errors/error-mapper.js');
  const started = Date.now();
  const error = await services.db.query('SELECT pg_sleep(5)').then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(isDatabaseUnavailable(error), String(error));
  assert.ok(Date.now() - started < 2000);
  const wire = toWireError(error);
  assert.equal(wire.status, 503);
  assert.equal(wire.headers['Retry-After'], '5');
  // The pool is fine afterwards.
  assert.deepEqual(await services.db.query('SELECT 1 AS one'), [{ one: 1 }]);
});

test('an exhausted pool answers 503 after the pool-wait bound instead of queueing without end', { skip }, async (t) => {
  const pg = await ownPostgres(t, bin!);
  const { services } = await build(t, { DATABASE_URL: pg.url, DATABASE_CONNECT_TIMEOUT_MS: '500' });
  const { isDatabaseUnavailable } = await import('../../src/db/database.js');
  // Hold every connection of the pool (10) in transactions that wait.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const holders = Array.from({ length: 10 }, () =>
    services.db.transaction(async (tx) => {
      await tx.query('SELECT 1');
      await held;
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  const started = Date.now();
  const error = await services.db.query('SELECT 1').then(
    () => null,
    (e: unknown) => e,
  );
  const took = Date.now() - started;
  release();
  await Promise.all(holders);
  assert.ok(isDatabaseUnavailable(error), String(error));
  assert.ok(took >= 400 && took < 2000, `waited ${took} ms`);
});

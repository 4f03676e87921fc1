// ASVS 5.0 V16 (security logging and error handling): what a login leaves in the audit
// log, what an unexpected error leaves in the log and in the answer, and that request
// data cannot forge a log line.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { loggerOptions } from '../../src/logger.js';
import { GOOD_PASSWORD, build, uniqueEmail, userWithRoles, type Built } from '../helpers/build.js';
import { captureLogs } from '../audit/helpers.js';

interface EventView {
  time: string;
  type: string;
  outcome: string;
  actor: string | null;
  target: string | null;
  user_id: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  detail: Record<string, unknown>;
}

const logs = captureLogs();
let built: Built;
before(async () => {
  // One app for the file, its log lines captured, closed once every test has run.
  built = await build(
    { after: () => {} },
    { LOG_LEVEL: 'info' },
    { logger: loggerOptions('info', { stream: logs.stream }) },
  );
});
after(() => built.services.close());

test('logins are audited, successes and failures, with the method and the reason', async () => {
  const admin = await userWithRoles(built, ['admin']);
  const email = uniqueEmail('audited-login');
  const registered = await built.app.inject({
    method: 'POST',
    url: '/users',
    payload: { email, password: GOOD_PASSWORD },
  });
  assert.equal(registered.statusCode, 201);
  const agent = { 'user-agent': 'asvs-v16/1.0' };
  const wrong = await built.app.inject({
    method: 'POST',
    url: '/auth/login',
    headers: agent,
    payload: { email, password: 'not-the-right-one-at-all' },
  });
  assert.equal(wrong.statusCode, 401);
  const unknown = await built.app.inject({
    method: 'POST',
    url: '/auth/login',
    headers: agent,
    payload: { email: uniqueEmail('nobody'), password: 'not-the-right-one-at-all' },
  });
  assert.equal(unknown.statusCode, 401);
  const ok = await built.app.inject({
    method: 'POST',
    url: '/auth/login',
    headers: agent,
    payload: { email, password: GOOD_PASSWORD },
  });
  assert.equal(ok.statusCode, 200);

  const since = new Date(Date.now() - 60_000).toISOString();
  const res = await built.app.inject({
    method: 'GET',
    url: `/admin/audit?type=login_success,login_failure&since=${since}&limit=50`,
    headers: admin.auth,
  });
  assert.equal(res.statusCode, 200, res.body);
  const events = res.json<{ events: EventView[] }>().events.filter((e) => e.user_agent === 'asvs-v16/1.0');
  const success = events.filter((e) => e.type === 'login_success');
  const failures = events.filter((e) => e.type === 'login_failure');
  assert.equal(success.length, 1);
  assert.equal(failures.length, 2);
  for (const e of events) {
    // When, from where, by what, in which request.
    assert.match(e.time, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/, 'UTC time');
    assert.ok(Math.abs(Date.parse(e.time) - Date.now()) < 60_000);
    assert.equal(e.ip, '127.0.0.1');
    assert.match(String(e.request_id), /^[0-9a-f-]{36}$/);
  }
  assert.equal(success[0]!.outcome, 'success');
  assert.equal(success[0]!.actor, success[0]!.user_id, 'who: the user');
  assert.deepEqual(success[0]!.detail.amr, ['pwd'], 'how: by password');
  assert.equal(success[0]!.detail.client_id, 'tessera');
  assert.deepEqual(
    failures.map((e) => e.outcome),
    ['failure', 'failure'],
  );
  assert.deepEqual(failures.map((e) => e.detail.reason).sort(), ['unknown_account', 'wrong_password']);
  // Neither password is in the record.
  assert.doesNotMatch(JSON.stringify(events), /not-the-right-one|quiet-lantern/);
});

test('an unexpected error is logged with its detail and answered generically', async (t) => {
  const user = await userWithRoles(built, ['user']);
  const internal = 'relation "users" exploded at /work/main/src/db/x.ts:1';
  t.mock.method(built.services.db, 'query', async () => {
    throw new Error(internal);
  });
  const before = logs.lines.length;
  const res = await built.app.inject({ method: 'GET', url: '/userinfo', headers: user.auth });
  t.mock.restoreAll();
  assert.equal(res.statusCode, 500);
  assert.deepEqual(res.json(), { error: 'server_error', error_description: 'Internal server error' });
  assert.doesNotMatch(res.body, /relation|src\/|exploded/);
  const records = logs.lines.slice(before).map((l) => JSON.parse(l) as Record<string, unknown>);
  const failed = records.find((r) => r.msg === 'request failed');
  assert.ok(failed, 'the failure has its own log line');
  assert.equal(failed.level, 50, 'at error level');
  const err = failed.err as { message?: string; stack?: string };
  assert.equal(err.message, internal, 'with the full message');
  assert.match(String(err.stack), /Error: relation/, 'and the stack');
  assert.ok(failed.reqId ?? failed.req, 'tied to its request');
});

test('a newline or a forged JSON field in a request stays inside one log line', async () => {
  const forged = 'x\n{"level":60,"msg":"forged admin login","time":"2030-01-01T00:00:00.000Z"}\r\nand more';
  const before = logs.lines.length;
  const res = await built.app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: forged }).toString(),
  });
  assert.equal(res.statusCode, 400);
  assert.equal(res.json<{ error: string }>().error, 'unsupported_grant_type');
  const lines = logs.lines.slice(before);
  assert.ok(lines.length > 0);
  const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(!records.some((r) => r.msg === 'forged admin login'), 'no line of its own');
  assert.ok(records.every((r) => r.level !== 60));
  // The value is there, escaped inside the refusal's own line.
  const refusal = lines.find((l) => l.includes('forged admin login'));
  assert.ok(refusal, 'the value is logged as data');
  assert.match(refusal, /\\n\{\\"level\\":60/);
  assert.equal((JSON.parse(refusal) as { msg: string }).msg, 'request refused');
});

test('log lines go to stdout only: no file, transport or remote target', () => {
  const options = loggerOptions('info') as Record<string, unknown>;
  assert.equal(options.transport, undefined);
  assert.equal(options.file, undefined);
  // Without a terminal, pino's default: standard output.
  if (!process.stdout.isTTY) assert.equal(options.stream, undefined);
  assert.equal(options.level, 'info');
});

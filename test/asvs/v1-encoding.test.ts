// ASVS V1 (encoding and sanitization): SQL takes its values as parameters, the server runs
// no OS command and evaluates no string as code, and SQL metacharacters in input are data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build, GOOD_PASSWORD, uniqueEmail } from '../helpers/build.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Every TypeScript source of the server and of the verifier kit, as [path, text]. */
function sources(): [string, string][] {
  const out: [string, string][] = [];
  for (const dir of ['src', 'packages/verifier/src']) {
    for (const name of readdirSync(`${ROOT}${dir}`, { recursive: true }) as string[]) {
      if (name.endsWith('.ts')) out.push([`${dir}/${name}`, readFileSync(`${ROOT}${dir}/${name}`, 'utf8')]);
    }
  }
  return out;
}

/** Locals a file sets to one of a few literal fragments (checked by reading it: no input reaches them). */
const FIXED_FRAGMENTS: Record<string, string[]> = {
  // column: 'ip' or `detail->>'account'`; counted: one of two aggregate expressions.
  'src/db/repositories/security-events.ts': ['column', 'counted'],
};

test('SQL statements take every value as a parameter, never spliced into their text', () => {
  const spliced: string[] = [];
  let statements = 0;
  for (const [path, text] of sources()) {
    // db.query(`…`), tx.query<Row>(`…`), manager.query('…' + x): the first argument's text.
    for (const m of text.matchAll(/\.query(?:<[^>(]*>)?\(\s*(`(?:[^`\\]|\\.)*`|'(?:[^'\\]|\\.)*'\s*\+)/g)) {
      statements += 1;
      const literal = m[1]!;
      if (literal.endsWith('+')) spliced.push(`${path}: a statement built with +`);
      // Only fixed text may be spliced: a module constant (COLUMNS), a choice between two
      // literals, or a local the file picks from literals (FIXED_FRAGMENTS).
      for (const [, raw] of literal.matchAll(/\$\{([^}]*)\}/g)) {
        const expr = raw!.trim();
        const fixed =
          /^[A-Z][A-Z0-9_]*$/.test(expr) ||
          /^\w+ \? '[^'$]*' : '[^'$]*'$/.test(expr) ||
          FIXED_FRAGMENTS[path]?.includes(expr);
        if (!fixed) spliced.push(`${path}: \${${expr}} in ${literal.slice(0, 80)}`);
      }
    }
  }
  assert.ok(statements > 50, `found the statements (${statements})`);
  assert.deepEqual(spliced, []);
});

test('the server runs no OS command and evaluates no string as code', () => {
  const found: string[] = [];
  const forbidden: [RegExp, string][] = [
    [/['"](?:node:)?child_process['"]/, 'child_process'],
    [/['"](?:node:)?vm['"]/, 'vm'],
    [/(?<![\w.$])eval\s*\(/, 'eval()'],
    [/\bnew\s+Function\s*\(/, 'new Function()'],
    [/\bset(?:Timeout|Interval)\s*\(\s*['"`]/, 'a timer given a string'],
  ];
  for (const [path, text] of sources()) {
    for (const [pattern, what] of forbidden) if (pattern.test(text)) found.push(`${path}: ${what}`);
  }
  assert.deepEqual(found, []);
});

test('SQL metacharacters in input are data: quotes and comments get the plain wrong-password answer', async (t) => {
  const { app, services } = await build(t);
  const email = uniqueEmail('sql');
  assert.equal(
    (await app.inject({ method: 'POST', url: '/users', payload: { email, password: GOOD_PASSWORD } })).statusCode,
    201,
  );
  const wrong = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password: 'not-the-password-at-all' },
  });
  assert.equal(wrong.statusCode, 401);
  for (const password of [
    "' OR '1'='1' --",
    "x'); DELETE FROM users; --",
    '$1 OR true',
    "\\'; SELECT pg_sleep(5); --",
  ]) {
    const res = await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
    assert.equal(res.statusCode, 401, password);
    assert.deepEqual(res.json(), wrong.json(), password);
  }
  for (const hostile of [`${email}' --`, `' OR 1=1 --@example.com`]) {
    const res = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: hostile, password: GOOD_PASSWORD },
    });
    assert.ok([400, 401].includes(res.statusCode), `${hostile}: ${res.statusCode}`);
    assert.equal(res.json<{ access_token?: string }>().access_token, undefined);
  }
  const [row] = await services.db.query<{ n: number }>('SELECT count(*)::int AS n FROM users WHERE email = $1', [
    email,
  ]);
  assert.equal(row!.n, 1);
  const ok = await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: GOOD_PASSWORD } });
  assert.equal(ok.statusCode, 200);
});

test('an address that could add a recipient or a header to a mail is refused, and no account is made', async (t) => {
  const { app, services } = await build(t);
  const hostile = [
    'a,b@example.com',
    'a;b@example.com',
    'x@example.com\r\nBcc: e@evil.example',
    'x@example.com\nSubject: hi',
    '"a"@example.com',
    'a@example.com>',
    'Name <a@example.com>',
  ];
  for (const email of hostile) {
    const res = await app.inject({ method: 'POST', url: '/users', payload: { email, password: GOOD_PASSWORD } });
    assert.equal(res.statusCode, 400, JSON.stringify(email));
    assert.equal(res.json<{ error: string }>().error, 'invalid_request');
  }
  const [row] = await services.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM users WHERE email LIKE '%evil%' OR email LIKE '%,%' OR email LIKE '%;%'`,
  );
  assert.equal(row!.n, 0);
});

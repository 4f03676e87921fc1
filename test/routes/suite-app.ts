// Shared pieces of the route tests: one app per suite (the embedded database allows a
// single open instance per data directory, and a build costs a second or more), and the
// checks every error answer must pass.
import { after, before, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse as InjectResponse } from 'fastify';
import { build, type Built } from '../helpers/build.js';

/**
 * These tests are about what each answer says, not about the login defences (their own
 * tests cover those): rate limits and captcha thresholds are lifted out of the way.
 */
export const WITHOUT_LIMITS: Readonly<Record<string, string>> = {
  RATE_LIMIT_MAX: '100000',
  LOGIN_RATE_LIMIT: '100000',
  REGISTRATION_RATE_LIMIT: '100000',
  TOKEN_RATE_LIMIT: '100000',
  CAPTCHA_AFTER_FAILURES: '1000',
  CAPTCHA_AFTER_IP_FAILURES: '100000',
};

/** Builds one app before the suite's tests and closes it after them; call inside describe(). */
export function suiteApp(env: Record<string, string> = {}, options: { logger?: unknown } = {}): () => Built {
  env = { ...WITHOUT_LIMITS, ...env };
  let built: Built | undefined;
  const closers: Array<() => Promise<void>> = [];
  const collect = ((fn: () => Promise<void>) => {
    closers.push(fn);
  }) as unknown as TestContext['after'];
  before(async () => {
    built = await build({ after: collect }, env, options);
  });
  after(async () => {
    for (const close of closers.reverse()) await close();
  });
  return () => {
    if (!built) throw new Error('suite app used before it was built');
    return built;
  };
}

/** The generic descriptions a client may see; anything else would be a leak or a typo. */
export const DESCRIPTIONS: Record<string, string> = {
  invalid_request: 'The request is missing a parameter or is malformed',
  invalid_grant: 'The grant is invalid, expired or revoked',
  unsupported_grant_type: 'The grant type is not supported',
  invalid_scope: 'The requested scope is invalid',
  invalid_target: 'The requested resource is invalid',
  invalid_credentials: 'Invalid credentials',
  invalid_token: 'The access token is invalid',
  not_found: 'Not found',
  payload_too_large: 'The request body is too large',
  unsupported_media_type: 'Unsupported content type',
  registration_closed: 'Registration is closed',
};

/** Words that would betray internals: stacks, paths, SQL, library names. */
const LEAK =
  /\bat \S+ \(|\/work\/|\/home\/|node_modules|\.[cm]?[jt]s\b|fastify|ajv|typebox|typeorm|pglite|postgres|\bpg\b|argon|jose|\bselect\b|\binsert\b|\bupdate\b|\bFST_|\bERR_|SyntaxError|TypeError|Unexpected token|stack|undefined|null/i;

export interface ErrorExpectation {
  status: number;
  error: string;
  /** Defaults to the generic description of the code. */
  description?: string;
}

/**
 * An error answer as the contract has it: the status, a JSON body of exactly
 * {error, error_description} with a generic description, no internals, never cached,
 * with the security headers.
 */
export function assertErrorResponse(res: InjectResponse, expected: ErrorExpectation): void {
  assert.equal(res.statusCode, expected.status, `status for ${res.body}`);
  assertSafeErrorShape(res);
  const body = res.json<Record<string, unknown>>();
  assert.equal(body.error, expected.error);
  assert.equal(body.error_description, expected.description ?? DESCRIPTIONS[expected.error]);
}

/** Any refused request: a 4xx with exactly {error, error_description} and nothing internal. */
export function assertSafeErrorShape(res: InjectResponse): void {
  assert.ok(res.statusCode >= 400 && res.statusCode < 500, `a 4xx, got ${res.statusCode}: ${res.body}`);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json<Record<string, unknown>>();
  assert.deepEqual(Object.keys(body).sort(), ['error', 'error_description'], `body ${res.body}`);
  assert.equal(typeof body.error, 'string');
  assert.equal(typeof body.error_description, 'string');
  assert.match(body.error as string, /^[a-z_]+$/);
  assert.doesNotMatch(res.body, LEAK, `no internals in ${res.body}`);
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  assert.match(String(res.headers['content-security-policy']), /default-src 'none'/);
}

export const FORM = { 'content-type': 'application/x-www-form-urlencoded' } as const;

/** A form body; pairs keep order and allow a name twice. */
export function form(pairs: Record<string, string> | Array<[string, string]>): string {
  return new URLSearchParams(Array.isArray(pairs) ? pairs : Object.entries(pairs)).toString();
}

/** Headers that differ between any two answers (date, rate-limit counters): left out when comparing. */
export function comparableHeaders(headers: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(headers).filter(
      ([name]) => name !== 'date' && !name.startsWith('ratelimit-') && !name.startsWith('x-ratelimit-'),
    ),
  );
}

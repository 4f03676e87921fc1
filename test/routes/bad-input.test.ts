// Hostile and broken input at the public endpoints: whatever arrives, the answer is a
// 4xx with exactly {error, error_description}, a generic text, the security headers, and
// never a 5xx or anything about the internals.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { InjectOptions } from 'fastify';
import { GOOD_PASSWORD, registerAndLogin, uniqueEmail } from '../helpers/build.js';
import { DESCRIPTIONS, FORM, assertErrorResponse, assertSafeErrorShape, form, suiteApp } from './suite-app.js';

const JSON_TYPE = { 'content-type': 'application/json' } as const;
const BODY_LIMIT = 16_384;

type Endpoint = { url: string; valid: Record<string, string> };

/** What these tests send: always a path, never a URL object. */
type PathRequest = InjectOptions & { url: string };

/** A payload in a failure label: text as sent, anything else as JSON. */
const shown = (payload: unknown): string =>
  typeof payload === 'string'
    ? payload
    : Buffer.isBuffer(payload)
      ? payload.toString('utf8')
      : String(JSON.stringify(payload));

describe('hostile input', () => {
  const ctx = suiteApp();
  const send = (options: InjectOptions) => ctx().app.inject(options);
  const userCount = async () =>
    (await ctx().services.db.query<{ n: number }>('SELECT count(*)::int AS n FROM users'))[0]!.n;
  /** Refused with a safe 4xx; the generic description of its code when the code is a generic one. */
  const refused = async (options: PathRequest, status?: number) => {
    const res = await send(options);
    const label = `${options.method} ${options.url} ${shown(options.payload).slice(0, 60)}`;
    assert.ok(res.statusCode < 500, `${label}: never a 5xx, got ${res.statusCode} ${res.body}`);
    assertSafeErrorShape(res);
    const body = res.json<{ error: string; error_description: string }>();
    if (DESCRIPTIONS[body.error] && body.error !== 'invalid_request')
      assert.equal(body.error_description, DESCRIPTIONS[body.error], label);
    if (status !== undefined) assert.equal(res.statusCode, status, `${label}: ${res.body}`);
    return res;
  };

  const jsonEndpoints: Endpoint[] = [
    { url: '/auth/login', valid: { email: 'someone@example.com', password: GOOD_PASSWORD } },
    { url: '/users', valid: { email: 'someone@example.com', password: GOOD_PASSWORD } },
  ];

  it('refuses wrong types on the JSON endpoints', async () => {
    const before = await userCount();
    for (const { url, valid } of jsonEndpoints) {
      for (const field of ['email', 'password']) {
        for (const value of [123, true, null, ['a@example.com'], { $ne: '' }, { toString: 'x' }, '']) {
          await refused({ method: 'POST', url, payload: { ...valid, [field]: value } }, 400);
        }
        const { [field]: _omitted, ...missing } = valid;
        await refused({ method: 'POST', url, payload: missing }, 400);
      }
      for (const body of ['[]', '"a string"', '42', 'true', 'null', '[{"email":"a@example.com","password":"x"}]']) {
        await refused({ method: 'POST', url, headers: JSON_TYPE, payload: body }, 400);
      }
    }
    assert.equal(await userCount(), before, 'nothing was created');
  });

  it('refuses extra fields on login and registration', async () => {
    for (const { url, valid } of jsonEndpoints) {
      for (const extra of [{ admin: true }, { roles: ['admin'] }, { grant_type: 'password' }, { '': 1 }]) {
        const res = await refused({ method: 'POST', url, payload: { ...valid, ...extra } }, 400);
        assert.equal(res.json().error, 'invalid_request');
      }
    }
  });

  it('ignores unknown parameters at the token endpoint (RFC 6749 3.2)', async () => {
    const { tokens } = await registerAndLogin(ctx().app);
    const res = await send({
      method: 'POST',
      url: '/oauth/token',
      headers: FORM,
      payload: form({
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token,
        admin: 'true',
        nonce: 'n',
        audience: 'x',
      }),
    });
    assert.equal(res.statusCode, 200, res.body);
    const unknownGrant = await refused(
      { method: 'POST', url: '/oauth/token', headers: FORM, payload: form({ grant_type: 'password', whatever: '1' }) },
      400,
    );
    assert.equal(unknownGrant.json().error, 'unsupported_grant_type');
  });

  it('answers 413 to bodies over BODY_LIMIT, whatever their type', async () => {
    const big = 'a'.repeat(BODY_LIMIT + 1);
    const cases: PathRequest[] = [
      { method: 'POST', url: '/auth/login', payload: { email: 'a@example.com', password: big } },
      { method: 'POST', url: '/users', payload: { email: 'a@example.com', password: big } },
      {
        method: 'POST',
        url: '/oauth/token',
        headers: FORM,
        payload: form({ grant_type: 'refresh_token', refresh_token: big }),
      },
      { method: 'POST', url: '/auth/login', headers: JSON_TYPE, payload: `{"email":"${big}` },
      { method: 'POST', url: '/auth/login', headers: { 'content-type': 'text/plain' }, payload: big },
    ];
    for (const options of cases) {
      const res = await refused(options);
      assert.ok(res.statusCode === 413 || res.statusCode === 415, `${options.url}: ${res.statusCode}`);
      if ((options.headers as Record<string, string> | undefined)?.['content-type'] !== 'text/plain') {
        assertErrorResponse(res, { status: 413, error: 'payload_too_large' });
      }
    }
  });

  it('refuses malformed JSON with invalid_request', async () => {
    for (const { url } of jsonEndpoints) {
      for (const body of [
        '{',
        '{"email":',
        '{"email":"a@example.com",}',
        "{'email':'a'}",
        '{"email":"a\\x"}',
        '\u0000',
        '{"a":1}{"b":2}',
        `${'['.repeat(3000)}${']'.repeat(3000)}`,
      ]) {
        await refused({ method: 'POST', url, headers: JSON_TYPE, payload: body }, 400);
      }
      await refused(
        {
          method: 'POST',
          url,
          headers: JSON_TYPE,
          payload: Buffer.from([0x7b, 0x22, 0x65, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
        },
        400,
      );
    }
  });

  it('refuses prototype-pollution payloads and pollutes nothing', async () => {
    const payloads = [
      '{"__proto__":{"x":1}}',
      `{"email":"a@example.com","password":"${GOOD_PASSWORD}","__proto__":{"polluted":true}}`,
      '{"constructor":{"prototype":{"polluted":true}}}',
      `{"email":"a@example.com","password":"${GOOD_PASSWORD}","constructor":{"prototype":{"polluted":true}}}`,
    ];
    for (const { url } of jsonEndpoints) {
      for (const payload of payloads) await refused({ method: 'POST', url, headers: JSON_TYPE, payload }, 400);
    }
    for (const payload of [
      '__proto__[polluted]=true&grant_type=password',
      'constructor[prototype][polluted]=true',
      '__proto__=x&grant_type=refresh_token&refresh_token=x',
    ]) {
      await refused({ method: 'POST', url: '/oauth/token', headers: FORM, payload });
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(({} as Record<string, unknown>).x, undefined);
    assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
  });

  it('answers 415 to a content type the endpoint does not take', async () => {
    const body = JSON.stringify({ email: 'a@example.com', password: GOOD_PASSWORD });
    const jsonTypes = [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'application/jsonx',
      'application/json-patch+json',
      'text/json',
    ];
    for (const { url } of jsonEndpoints) {
      for (const type of jsonTypes) {
        assertErrorResponse(await send({ method: 'POST', url, headers: { 'content-type': type }, payload: body }), {
          status: 415,
          error: 'unsupported_media_type',
        });
      }
      // A body without any content type.
      assertErrorResponse(await send({ method: 'POST', url, payload: body }), {
        status: 415,
        error: 'unsupported_media_type',
      });
    }
    const formBody = form({ grant_type: 'refresh_token', refresh_token: 'x' });
    for (const type of [
      'application/json',
      'text/plain',
      'multipart/form-data; boundary=x',
      'application/x-www-form-urlencodedx',
    ]) {
      assertErrorResponse(
        await send({ method: 'POST', url: '/oauth/token', headers: { 'content-type': type }, payload: formBody }),
        { status: 415, error: 'unsupported_media_type' },
      );
    }
    assertErrorResponse(await send({ method: 'POST', url: '/oauth/token', payload: formBody }), {
      status: 415,
      error: 'unsupported_media_type',
    });
  });

  it('refuses empty bodies with invalid_request', async () => {
    for (const { url } of jsonEndpoints) {
      assertErrorResponse(await send({ method: 'POST', url, headers: JSON_TYPE, payload: '' }), {
        status: 400,
        error: 'invalid_request',
      });
      assertErrorResponse(await send({ method: 'POST', url }), { status: 400, error: 'invalid_request' });
      assertErrorResponse(await send({ method: 'POST', url, payload: {} }), { status: 400, error: 'invalid_request' });
    }
    assertErrorResponse(await send({ method: 'POST', url: '/oauth/token', headers: FORM, payload: '' }), {
      status: 400,
      error: 'invalid_request',
    });
    assertErrorResponse(await send({ method: 'POST', url: '/oauth/token' }), { status: 400, error: 'invalid_request' });
  });

  it('never answers a NUL byte or odd characters with a server error', async () => {
    // PostgreSQL cannot take a NUL: refused by the schema at login too, before any lookup or hash.
    const nul = 'a\u0000b@example.com';
    assertErrorResponse(
      await send({ method: 'POST', url: '/auth/login', payload: { email: nul, password: GOOD_PASSWORD } }),
      { status: 400, error: 'invalid_request' },
    );
    await refused({ method: 'POST', url: '/users', payload: { email: nul, password: GOOD_PASSWORD } }, 400);
    await refused(
      {
        method: 'POST',
        url: '/oauth/token',
        headers: FORM,
        payload: 'grant_type=refresh_token&refresh_token=x&client_id=%00',
      },
      400,
    );
    await refused({ method: 'POST', url: '/oauth/token', headers: FORM, payload: 'grant_type=%00' }, 400);
    for (const email of ['\ud800@example.com', '\u202e@example.com', `${'é'.repeat(300)}@example.com`]) {
      const res = await send({ method: 'POST', url: '/auth/login', payload: { email, password: GOOD_PASSWORD } });
      assert.ok(res.statusCode === 400 || res.statusCode === 401, `${res.statusCode} ${res.body}`);
      assertSafeErrorShape(res);
    }
    // Longer than any password may be: refused without hashing, same answer as a wrong one.
    const email = uniqueEmail('long');
    assertErrorResponse(
      await send({ method: 'POST', url: '/auth/login', payload: { email, password: '€'.repeat(1000) } }),
      { status: 401, error: 'invalid_credentials' },
    );
    await refused({ method: 'POST', url: '/users', payload: { email, password: '€'.repeat(1000) } }, 400);
  });

  it('answers unknown routes and methods with 404 not_found, echoing nothing', async () => {
    for (const [method, url] of [
      ['GET', '/nope'],
      ['GET', '/admin/../../etc/passwd'],
      ['GET', `/${'a'.repeat(5000)}`],
      ['GET', '/oauth/token'],
      ['DELETE', '/users'],
      ['PUT', '/auth/login'],
      ['GET', '/.well-known/jwks.json/../../app.ts'],
    ] as const) {
      const res = await send({ method, url });
      assertErrorResponse(res, { status: 404, error: 'not_found' });
      assert.equal(res.body, '{"error":"not_found","error_description":"Not found"}');
    }
  });

  it('answers an undecodable URL with our own 400 and the security headers', async () => {
    for (const url of ['/%zz', '/users/%E0%A4%A', '/.well-known/%']) {
      const res = await send({ method: 'GET', url });
      assertErrorResponse(res, { status: 400, error: 'invalid_request' });
      assert.doesNotMatch(res.body, /%zz|%E0|valid url/i);
    }
  });

  it('answers an over-long path parameter with a 4xx, not a server error', async () => {
    // Past the router's maxParamLength Fastify raises its own error before any route runs.
    const res = await refused({ method: 'POST', url: `/admin/keys/${'k'.repeat(300)}/revoke` });
    assert.doesNotMatch(res.body, /kkkk/);
  });

  it('puts the security headers on every error', async () => {
    const errors = await Promise.all([
      send({ method: 'GET', url: '/missing' }),
      send({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'text/plain' }, payload: 'x' }),
      send({ method: 'POST', url: '/auth/login', payload: { email: uniqueEmail(), password: 'wrong-password-1' } }),
      send({ method: 'GET', url: '/userinfo' }),
      send({ method: 'POST', url: '/oauth/token', headers: FORM, payload: 'grant_type=password' }),
    ]);
    for (const res of errors) {
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.match(String(res.headers['content-security-policy']), /default-src 'none'/);
      assert.match(String(res.headers['content-security-policy']), /frame-ancestors 'none'/);
      assert.equal(res.headers['referrer-policy'], 'no-referrer');
      assert.equal(res.headers['x-powered-by'], undefined);
    }
  });

  it('grants no cross-origin access while CORS_ORIGINS is empty', async () => {
    const origin = { origin: 'https://evil.example' };
    const answers = [
      await send({ method: 'GET', url: '/.well-known/jwks.json', headers: origin }),
      await send({
        method: 'POST',
        url: '/auth/login',
        headers: origin,
        payload: { email: uniqueEmail(), password: 'wrong-password-2' },
      }),
      await send({
        method: 'OPTIONS',
        url: '/auth/login',
        headers: { ...origin, 'access-control-request-method': 'POST' },
      }),
    ];
    for (const res of answers) {
      assert.ok(res.statusCode < 500);
      assert.equal(res.headers['access-control-allow-origin'], undefined);
      assert.equal(res.headers['access-control-allow-credentials'], undefined);
    }
  });
});

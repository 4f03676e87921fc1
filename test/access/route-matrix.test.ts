// The role × route matrix, generated from the routes the app really registers: every
// route is called by every kind of caller (nobody, each role, a disabled user, a dead
// session, expired, forged and misdirected tokens) and must answer as its declared
// policy and the ROLE_PERMISSIONS table say. A route added later joins the matrix by
// itself; a route without a policy stops the app from building.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse, RouteOptions } from 'fastify';
import { build, userWithRoles, type Built } from '../helpers/build.js';
import { buildServer } from '../../src/server.js';
import { ROLE_PERMISSIONS, type Permission, type Role } from '../../src/domain/roles/permissions.js';
import type { RoutePolicy } from '../../src/plugins/app/route-policy.js';
import { bearer, clientToken, expiredCopy, forgeries, kidOf, newClient, otherAudienceCopy, revoke } from './helpers.js';

interface CollectedRoute {
  method: string;
  url: string;
  policy: RoutePolicy | undefined;
  schema: RouteOptions['schema'];
}

/**
 * Builds the app while an onRoute hook records every route as it is registered. The hook
 * goes on through Fastify's `fastify.initialization` diagnostics channel, which fires as
 * the instance is created, before buildServer registers any plugin or route.
 */
async function buildCollecting(): Promise<{ built: Built; routes: CollectedRoute[]; close: () => Promise<void> }> {
  const routes: CollectedRoute[] = [];
  const channel = diagnostics.channel('fastify.initialization');
  const onInit = (message: unknown) => {
    const { fastify } = message as { fastify: FastifyInstance };
    fastify.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      for (const method of methods) {
        routes.push({
          method,
          url: route.url,
          policy: route.config?.policy,
          schema: route.schema,
        });
      }
    });
  };
  const closers: Array<() => Promise<void>> = [];
  channel.subscribe(onInit);
  let built: Built;
  try {
    built = await build(
      { after: (fn: () => Promise<void>) => void closers.push(fn) },
      {
        AUDIENCES: 'https://reports.example',
      },
    );
  } finally {
    channel.unsubscribe(onInit);
  }
  return {
    built,
    routes,
    close: async () => {
      for (const fn of closers.reverse()) await fn();
    },
  };
}

// ---------------------------------------------------------------------------------
// Harmless, schema-valid requests. Inputs come from the route's own schemas; a few
// routes get fixed inputs so that no call costs a password hash or changes real data.
// ---------------------------------------------------------------------------------

type JsonSchema = Record<string, unknown> & {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
};

function sampleString(s: JsonSchema): string {
  if (s.format === 'uuid') return randomUUID();
  if (s.format === 'date-time') return new Date().toISOString();
  if (s.format === 'email') return 'nobody@example.com';
  const min = typeof s.minLength === 'number' ? s.minLength : 1;
  const candidates = [
    'x'.repeat(Math.max(1, min)),
    '0',
    '1',
    randomUUID(),
    'A'.repeat(43),
    'nobody@example.com',
    new Date().toISOString(),
  ];
  if (typeof s.pattern !== 'string') return candidates[0]!;
  const re = new RegExp(s.pattern, 'u');
  return candidates.find((c) => re.test(c) && c.length >= min) ?? candidates[0]!;
}

/** The smallest instance of a schema: required properties only, first union member. */
function sample(schema: JsonSchema | undefined): unknown {
  if (!schema || typeof schema !== 'object') return undefined;
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  if (schema.anyOf) return sample(schema.anyOf[0]);
  if (schema.oneOf) return sample(schema.oneOf[0]);
  switch (schema.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const key of schema.required ?? []) out[key] = sample(schema.properties?.[key]);
      return out;
    }
    case 'array':
      return Array.from({ length: typeof schema.minItems === 'number' ? schema.minItems : 0 }, () =>
        sample(schema.items),
      );
    case 'string':
      return sampleString(schema);
    case 'integer':
    case 'number':
      return typeof schema.minimum === 'number' ? schema.minimum : 1;
    case 'boolean':
      return false;
    case 'null':
      return null;
    default:
      return undefined;
  }
}

interface Input {
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: Record<string, unknown>;
}

/** Fixed inputs: each gives the same cheap, harmless answer to anyone allowed in. */
/** The authorization code flow's browser endpoints: public, their forms carry CSRF tokens. */
const BROWSER_ENDPOINTS = ['/oauth/authorize', '/oauth/logout'];
const HOSTED_FORMS = [
  '/oauth/authorize/login',
  '/oauth/authorize/consent',
  '/oauth/authorize/mfa',
  '/oauth/authorize/passkey',
  '/oauth/authorize/enrol',
  '/oauth/authorize/continue',
  '/oauth/logout/confirm',
  '/account/verify-email',
  '/account/password-reset',
  '/account/password-reset/confirm',
];
/**
 * Routes that check the caller's current password again (erasing the account): a wrong one
 * is 401 invalid_credentials after the policy let the caller in, never invalid_token.
 */
const PASSWORD_RECHECK = ['DELETE /users/me'];

const FIXED: Record<string, Input> = {
  // An invalid scope is refused before any password is checked: 400 for everyone.
  'POST /auth/login': { body: { email: 'nobody@example.com', password: 'x', scope: 'no-such-scope' } },
  // A weak password is refused before hashing: nobody is created.
  'POST /users': { body: { email: 'matrix@example.com', password: 'short' } },
  // The same for a password change: 400 weak_password for a signed-in user, nothing changes.
  'POST /users/me/password': { body: { current_password: 'x', new_password: 'x' } },
  // An address without a dotted domain is refused before the password is checked: 400.
  'POST /users/me/email': { body: { email: 'a@b', password: 'x' } },
  // Nobody has this id: 404 for whoever may change users.
  'PATCH /admin/users/:id': { params: { id: randomUUID() }, body: { disabled: false } },
  // A user token is no client authentication: 401 invalid_client for every caller.
  'POST /oauth/token': { body: { grant_type: 'client_credentials', scope: 'reports:read' } },
  'POST /oauth/revoke': { body: { token: 'not-a-token' } },
  'POST /admin/clients': { body: { name: 'matrix client', scope: 'matrix:read' } },
};

function inputFor(route: CollectedRoute): Input {
  const schema = (route.schema ?? {}) as Record<string, JsonSchema | undefined>;
  const generated: Input = {
    params: (sample(schema.params) as Record<string, string> | undefined) ?? {},
    query: (sample(schema.querystring) as Record<string, string> | undefined) ?? {},
    ...(schema.body ? { body: (sample(schema.body) as Record<string, unknown>) ?? {} } : {}),
  };
  const fixed =
    FIXED[`${route.method} ${route.url}`] ?? (route.method === 'HEAD' ? FIXED[`GET ${route.url}`] : undefined) ?? {};
  return { ...generated, ...fixed };
}

function requestFor(route: CollectedRoute, url: string, input: Input): InjectOptions {
  if (url === '*') {
    // A preflight, from an origin that is not allowed, for a protected route.
    return {
      method: 'OPTIONS',
      url: '/admin/users',
      headers: { origin: 'https://elsewhere.example', 'access-control-request-method': 'GET' },
    };
  }
  const path = url.replace(/:([A-Za-z0-9_]+)/g, (_m, name: string) =>
    encodeURIComponent(input.params?.[name] ?? randomUUID()),
  );
  const query = new URLSearchParams(input.query ?? {}).toString();
  const consumes = (route.schema as { consumes?: string[] } | undefined)?.consumes ?? [];
  const isForm = consumes.includes('application/x-www-form-urlencoded');
  const body = input.body;
  return {
    method: route.method,
    url: query ? `${path}?${query}` : path,
    ...(body === undefined
      ? {}
      : isForm
        ? {
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            payload: new URLSearchParams(body as Record<string, string>).toString(),
          }
        : { headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) }),
  };
}

// ---------------------------------------------------------------------------------
// Callers.
// ---------------------------------------------------------------------------------

interface Caller {
  name: string;
  headers: Record<string, string>;
  /** The roles of a valid, enabled caller; null for a caller every protected route must refuse. */
  roles: Role[] | null;
  /** Authenticates as a registered client (HTTP Basic), which client routes may honour. */
  client?: boolean;
}

/**
 * The one route registered before the policy plugin: @fastify/cors answers preflights
 * (OPTIONS *) for every path. It carries no data and is judged as a public route.
 */
const isCorsPreflight = (route: CollectedRoute) => route.method === 'OPTIONS' && route.url === '*' && !route.policy;
const PREFLIGHT_POLICY: RoutePolicy = { public: true };
const policyOf = (route: CollectedRoute): RoutePolicy => (isCorsPreflight(route) ? PREFLIGHT_POLICY : route.policy!);

const describePolicy = (p: RoutePolicy | undefined) =>
  !p
    ? 'none'
    : 'public' in p
      ? 'public'
      : 'client' in p
        ? 'client'
        : 'user' in p
          ? 'user'
          : `permission:${p.permission}`;

/** The JSON body of an answer, when it has one (HEAD answers and text bodies do not). */
function errorBody(route: CollectedRoute, res: LightMyRequestResponse): { error?: string } | undefined {
  if (route.method === 'HEAD' || !res.body || !/^application\/json/.test(String(res.headers['content-type'])))
    return undefined;
  return res.json<{ error?: string }>();
}

const mayAct = (roles: readonly Role[], permission: Permission) =>
  roles.some((role) => ROLE_PERMISSIONS[role].includes(permission));

describe('role × route matrix', () => {
  let ctx: Awaited<ReturnType<typeof buildCollecting>>;
  let callers: Caller[];
  const app = () => ctx.built.app;

  before(async () => {
    ctx = await buildCollecting();
    const built = ctx.built;
    const { services } = built;
    const [user, moderator, admin, disabledAdmin, disabledByApi, loggedOut] = await Promise.all([
      userWithRoles(built, ['user']),
      userWithRoles(built, ['moderator']),
      userWithRoles(built, ['admin']),
      userWithRoles(built, ['admin']),
      userWithRoles(built, ['moderator']),
      userWithRoles(built, ['admin']),
    ]);

    // Disabled with its session left live (as a direct database change would): only the
    // user's own flag can refuse it.
    await services.db.query('UPDATE users SET disabled = true WHERE id = $1', [disabledAdmin.id]);
    // Disabled through the admin API, which also ends its sessions.
    const disabling = await app().inject({
      method: 'PATCH',
      url: `/admin/users/${disabledByApi.id}`,
      headers: admin.auth,
      payload: { disabled: true },
    });
    assert.equal(disabling.statusCode, 200, disabling.body);
    // Logged out: the refresh token was revoked, the access token is not expired yet.
    assert.equal((await revoke(app(), loggedOut.tokens.refresh_token)).statusCode, 200);

    const client = await newClient(services, { scopes: ['reports:read'], introspect: true });
    const jwks = (await app().inject({ method: 'GET', url: '/.well-known/jwks.json' })).json<{
      keys: { kid: string }[];
    }>();
    const jwk = jwks.keys.find((k) => k.kid === kidOf(admin.tokens.access_token));
    assert.ok(jwk, 'the signing key is published');
    const forged = await forgeries(admin.tokens.access_token, jwk);

    callers = [
      { name: 'anonymous', headers: {}, roles: null },
      { name: 'empty bearer', headers: { authorization: 'Bearer ' }, roles: null },
      {
        name: 'basic credentials of a client',
        headers: { authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}` },
        roles: null,
        client: true,
      },
      { name: 'user', headers: user.auth, roles: ['user'] },
      { name: 'moderator', headers: moderator.auth, roles: ['moderator'] },
      { name: 'admin', headers: admin.auth, roles: ['admin'] },
      { name: 'disabled admin (session still live)', headers: disabledAdmin.auth, roles: null },
      { name: 'moderator disabled by an admin', headers: disabledByApi.auth, roles: null },
      { name: 'admin after logout', headers: loggedOut.auth, roles: null },
      {
        name: 'expired admin token',
        headers: bearer(await expiredCopy(services, admin.tokens.access_token)),
        roles: null,
      },
      {
        name: 'admin token for another audience',
        headers: bearer(await otherAudienceCopy(services, admin.tokens.access_token, 'https://elsewhere.example')),
        roles: null,
      },
      { name: 'admin refresh token', headers: bearer(admin.tokens.refresh_token), roles: null },
      { name: 'client_credentials token', headers: bearer(await clientToken(app(), client)), roles: null },
      ...Object.entries(forged).map(([name, token]) => ({ name, headers: bearer(token), roles: null })),
    ];
  });

  after(async () => {
    await ctx?.close();
  });

  it('collects every registered route, and every one declares a known policy', async () => {
    const { routes } = ctx;
    assert.ok(routes.length >= 20, `routes collected: ${routes.length}`);
    const permissions = new Set<string>(Object.values(ROLE_PERMISSIONS).flat());
    for (const route of routes) {
      const policy = route.policy;
      if (isCorsPreflight(route)) continue;
      assert.ok(policy, `${route.method} ${route.url} declares a policy`);
      // tokenInBody, beforeEnrolment and stepUp qualify a kind; they are no kind of their own.
      const keys = Object.keys(policy).filter((k) => !['tokenInBody', 'beforeEnrolment', 'stepUp'].includes(k));
      assert.equal(keys.length, 1, `${route.method} ${route.url}: one policy kind`);
      if ('permission' in policy)
        assert.ok(
          permissions.has(policy.permission),
          `${route.method} ${route.url}: ${policy.permission} is in ROLE_PERMISSIONS`,
        );
      else assert.ok(['public', 'client', 'user'].includes(keys[0]!), `${route.method} ${route.url}: ${keys[0]}`);
    }
    // The collector saw what the router holds: every collected route is there, and every
    // documented operation was collected.
    const unchecked = routes.filter((r) => !r.policy).map((r) => `${r.method} ${r.url}`);
    assert.ok(
      unchecked.every((r) => r === 'OPTIONS *'),
      `only the CORS preflight route goes without a policy: ${unchecked.join(', ')}`,
    );
    for (const route of routes.filter((r) => !r.url.includes('*')))
      assert.ok(app().hasRoute({ method: route.method, url: route.url }), `${route.method} ${route.url} is routed`);
    const spec = app().swagger() as { paths: Record<string, Record<string, unknown>> };
    const collected = new Set(routes.map((r) => `${r.method} ${r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`));
    for (const [path, operations] of Object.entries(spec.paths)) {
      for (const method of Object.keys(operations))
        assert.ok(collected.has(`${method.toUpperCase()} ${path}`), `${method.toUpperCase()} ${path} was collected`);
    }
    // The endpoints the contract names are all in the matrix.
    for (const name of [
      'GET /.well-known/jwks.json',
      'POST /auth/login',
      'POST /oauth/token',
      'POST /oauth/revoke',
      'POST /oauth/introspect',
      'GET /oauth/revoked',
      'GET /userinfo',
      'POST /users',
      'POST /users/verify-email',
      'POST /users/password-reset',
      'POST /users/password-reset/confirm',
      'GET /users/me',
      'DELETE /users/me',
      'POST /users/me/password',
      'GET /users/me/sessions',
      'DELETE /users/me/sessions/:id',
      'GET /admin/users',
      'PATCH /admin/users/:id',
      'DELETE /admin/users/:id/sessions',
      'POST /admin/users',
      'DELETE /admin/users/:id',
      'GET /admin/keys',
      'POST /admin/keys/rotate',
      'POST /admin/keys/:kid/revoke',
      'POST /admin/clients',
      'GET /admin/audit',
      'POST /auth/mfa',
      'GET /users/me/mfa',
      'POST /users/me/mfa/totp',
      'POST /users/me/mfa/totp/confirm',
      'POST /users/me/mfa/recovery-codes',
      'DELETE /users/me/mfa/:id',
      'POST /users/me/mfa/webauthn/register/options',
      'POST /users/me/mfa/webauthn/register/verify',
      'GET /metrics',
      'GET /healthz',
      'GET /readyz',
    ]) {
      assert.ok(collected.has(name.replace(/:([A-Za-z0-9_]+)/g, '{$1}')), `${name} is registered`);
    }
  });

  it('declares policies as the contract’s roles section describes them', () => {
    for (const route of ctx.routes) {
      const policy = policyOf(route);
      const where = `${route.method} ${route.url} (${describePolicy(policy)})`;
      if (route.url.startsWith('/admin/')) {
        assert.ok('permission' in policy, `${where}: admin routes need a permission`);
        assert.ok(mayAct(['admin'], policy.permission), `${where}: admins may do everything`);
        assert.ok(!mayAct(['user'], policy.permission), `${where}: plain users never`);
        // Moderators: read users (and whether they have second factors), disable and enable plain users; nothing else.
        const moderatorRoute =
          (['/admin/users', '/admin/users/:id/mfa'].includes(route.url) &&
            (route.method === 'GET' || route.method === 'HEAD')) ||
          (route.url === '/admin/users/:id' && route.method === 'PATCH');
        assert.equal(
          mayAct(['moderator'], policy.permission),
          moderatorRoute,
          `${where}: moderators only list and disable users`,
        );
      }
      if (route.url === '/metrics') {
        // Without METRICS_PORT, metrics are served on the main port to admins only.
        assert.ok(
          'permission' in policy && mayAct(['admin'], policy.permission) && !mayAct(['moderator'], policy.permission),
          `${where}: admins only`,
        );
      }
      if (route.url === '/userinfo' || route.url.startsWith('/users/me'))
        assert.ok('user' in policy, `${where}: own data needs a signed-in user`);
      if (route.url.startsWith('/oauth/')) {
        if (BROWSER_ENDPOINTS.some((prefix) => route.url.startsWith(prefix)))
          assert.ok('public' in policy, `${where}: a browser's endpoint, authenticated by its own forms`);
        else assert.ok('client' in policy, `${where}: OAuth endpoints authenticate clients`);
      }
      if (
        route.url.startsWith('/.well-known/') ||
        ['/healthz', '/readyz', '/auth/login', '/auth/mfa', '/users'].includes(route.url)
      ) {
        assert.ok('public' in policy, `${where}: public`);
      }
    }
  });

  it('answers every caller on every route as the route’s policy says', async (t) => {
    // A route reachable with a trailing slash too (a prefix's root) is checked on both paths.
    const targets = ctx.routes
      .flatMap((route) => {
        const urls = [route.url];
        if (route.url.includes('*')) return [{ route, url: route.url }];
        if (!route.url.endsWith('/') && app().hasRoute({ method: route.method, url: `${route.url}/` }))
          urls.push(`${route.url}/`);
        return urls.map((url) => ({ route, url }));
      })
      .filter(
        (target, i, all) => all.findIndex((o) => o.route.method === target.route.method && o.url === target.url) === i,
      );
    for (const { route, url } of targets) {
      const policy = policyOf(route);
      const kind = describePolicy(policy);
      await t.test(`${route.method} ${url} (${kind})`, async () => {
        const input = inputFor(route);
        const problems: string[] = [];
        const answers: { caller: Caller; res: LightMyRequestResponse }[] = [];
        for (const [i, caller] of callers.entries()) {
          const request = requestFor(route, url, input);
          // Each caller comes from its own address, so per-IP route limits stay out of the way.
          const res = await app().inject({
            ...request,
            headers: { ...(request.headers ?? {}), ...caller.headers },
            remoteAddress: `10.77.0.${i + 1}`,
          });
          answers.push({ caller, res });
        }
        for (const { caller, res } of answers) {
          const status = res.statusCode;
          const body = errorBody(route, res);
          const got = `${status}${body?.error ? ` ${body.error}` : ''}`;
          const fail = (expected: string) => problems.push(`${caller.name}: expected ${expected}, got ${got}`);
          if (status >= 500) fail('no server error');
          if (status === 429) fail('no rate limit');
          if ('public' in policy) {
            // A hosted form refuses a post without its CSRF token (403), whoever sends it.
            const csrfRefusal = status === 403 && HOSTED_FORMS.includes(route.url);
            if ((status === 401 || status === 403) && !csrfRefusal) fail('not 401/403 on a public route');
          } else if ('client' in policy) {
            // A bearer token is no client authentication: the answer does not depend on it.
            if (body?.error === 'invalid_token' || body?.error === 'forbidden') fail('a client-authentication answer');
          } else if (caller.roles === null) {
            if (status !== 401) fail('401');
            else {
              if (body && body.error !== 'invalid_token') fail('401 invalid_token');
              if (!/^Bearer realm="[^"]+"/.test(String(res.headers['www-authenticate'])))
                fail('401 with a Bearer challenge');
            }
          } else if ('user' in policy || mayAct(caller.roles, policy.permission)) {
            const recheck =
              status === 401 &&
              body?.error === 'invalid_credentials' &&
              PASSWORD_RECHECK.includes(`${route.method} ${route.url}`);
            // These callers logged in with a password only: step-up routes that need a second factor say so.
            const stepUp =
              status === 401 &&
              body?.error === 'insufficient_user_authentication' &&
              policy.stepUp === 'mfa' &&
              /error="insufficient_user_authentication"/.test(String(res.headers['www-authenticate']));
            if ((status === 401 || status === 403) && !recheck && !stepUp)
              fail(`not 401/403 (roles ${caller.roles.join(',')})`);
          } else {
            if (status !== 403) fail(`403 (roles ${caller.roles.join(',')} lack ${policy.permission})`);
            else if (body && body.error !== 'forbidden') fail('403 forbidden');
          }
        }
        // Routes that do not look at bearer tokens answer every caller alike.
        if ('public' in policy || 'client' in policy) {
          const first = answers[0]!;
          for (const { caller, res } of answers) {
            if ('client' in policy && caller.client) continue;
            const error = (r: LightMyRequestResponse) => errorBody(route, r)?.error;
            if (res.statusCode !== first.res.statusCode || error(res) !== error(first.res)) {
              problems.push(
                `${caller.name}: answered ${res.statusCode} ${error(res) ?? ''}, anonymous ${first.res.statusCode} ${error(first.res) ?? ''}`,
              );
            }
          }
        }
        assert.deepEqual(problems, [], `${route.method} ${url} (${kind}) with ${JSON.stringify(input)}`);
      });
    }
  });

  it('reaches no protected handler through another spelling of its path', async () => {
    const admin = ctx.routes.filter((r) => r.url === '/admin/users' && r.method === 'GET');
    assert.equal(admin.length, 1);
    for (const url of [
      '/admin/users/',
      '/ADMIN/users',
      '/admin//users',
      '/admin/./users',
      '/admin/%75sers',
      '/admin/users;x=1',
      '/admin/users%2f',
      '/users/me/',
      '/users//me',
      '/USERS/me',
    ]) {
      const res = await app().inject({ method: 'GET', url });
      assert.ok([401, 404, 400].includes(res.statusCode), `${url}: ${res.statusCode} ${res.body}`);
    }
  });

  it('a route without a policy stops the app from building', async (t) => {
    const { services, config } = ctx.built;
    // A fresh app on the same database, with one dummy route declaring no policy.
    const fresh = await buildServer(config, { logger: false, database: services.db });
    t.after(() => fresh.close());
    assert.throws(() => fresh.get('/dummy-without-policy', async () => ({ ok: true })), /declares no policy/);
    assert.throws(
      () =>
        fresh.post('/dummy-with-other-config', { config: { rateLimit: false } as never }, async () => ({ ok: true })),
      /declares no policy/,
    );

    const nested = await buildServer(config, { logger: false, database: services.db });
    t.after(() => nested.close());
    await assert.rejects(async () => {
      await nested.register(
        async (scope) => {
          scope.get('/nested-without-policy', async () => ({ ok: true }));
        },
        { prefix: '/dummy' },
      );
      await nested.ready();
    }, /route GET \/dummy\/nested-without-policy declares no policy/);

    // And a route that does declare one gets its checks.
    const declared = await buildServer(config, { logger: false, database: services.db });
    t.after(() => declared.close());
    declared.get('/dummy-admin-only', { config: { policy: { permission: 'keys:manage' } } }, async () => ({
      ok: true,
    }));
    await declared.ready();
    assert.equal((await declared.inject({ method: 'GET', url: '/dummy-admin-only' })).statusCode, 401);
    const user = callers.find((c) => c.name === 'user')!;
    assert.equal(
      (await declared.inject({ method: 'GET', url: '/dummy-admin-only', headers: user.headers })).statusCode,
      403,
    );
    const admin = callers.find((c) => c.name === 'admin')!;
    assert.equal(
      (await declared.inject({ method: 'GET', url: '/dummy-admin-only', headers: admin.headers })).statusCode,
      200,
    );
  });
});

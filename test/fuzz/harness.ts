// Sends generated requests to the app in process and checks every answer: no 5xx, a
// documented status, the documented error shape, nothing internal in any body, no access
// without the right credentials, and no change to the stored state from a refused request.
import assert from 'node:assert/strict';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { userWithRoles, type Built } from '../helpers/build.js';
import type { Queryable } from '../../src/db/database.js';
import { assertSafeErrorShape } from '../routes/suite-app.js';
import { createClient } from '../../src/clients/clients.js';
import { registerUser } from '../../src/users/register-user.js';
import { TesseraError, type ErrorCode } from '../../src/errors/errors.js';
import { routeOf, type Operation } from './openapi-ops.js';
import { GOOD_PASSWORD, encodeLoose, headerSafe, type RequestCase } from './arbitraries.js';
import { type ActorName, type Live, decodeClaims, resolveTree, resolveVal } from './values.js';

/** Stack frames, SQL and error text, file paths: none may appear in any answer. */
const INTERNALS =
  /\bat (?:async )?\S+ \([^)\s]*:\d+:\d+\)|\bat (?:file:\/\/)?\/\S+:\d+:\d+|\.[cm]?[jt]s:\d+|\bSELECT\b|\bINSERT\b|\bUPDATE\s+\w+\s+SET\b|\brelation "|syntax error|violates \w+ constraint|\/work\/|node_modules|\/src\/|\bFST_|\bERR_[A-Z_]+|SyntaxError|TypeError|RangeError/i;
/** Library names: none may appear in any answer (see LIBRARY_NAMES_ALLOWED for the one exception). */
const LIBRARY_NAMES = /\bfastify|typeorm|pglite|postgres|\bajv\b|\bjose\b|argon2/i;
/**
 * The Prometheus exposition (admin only, or METRICS_PORT) names what it measures, and one
 * metric is named after the hash (tessera_argon2_queue_depth): reported, not failed here.
 */
const LIBRARY_NAMES_ALLOWED = new Set(['GET /metrics']);

/** Fields of success bodies that carry data a caller chose, or random material (tokens, keys, hashes). */
const OPAQUE_FIELDS = new Set([
  'email',
  'username',
  'name',
  'scope',
  'user_agent',
  'ip',
  'client_id',
  'client_secret',
  'access_token',
  'refresh_token',
  'kid',
  'x',
  'y',
  'n',
  'e',
  'jti',
  'sid',
  'sub',
  'id',
  'next_cursor',
  'replacement',
  'account',
  'hash',
  'leaf_index',
  'target',
  'actor',
  'request_id',
  'user_id',
  'session_id',
  'cursor',
  'query',
  'resource',
  'audience',
  'aud',
]);

const ROLES: Record<ActorName, string[]> = { admin: ['admin'], moderator: ['moderator'], user: ['user'] };

/** Who may get a 2xx from an operation (CONTRACT §5); anyone else must be refused. */
function mayAccess(op: Operation): Set<ActorName> | 'introspecting-client' | undefined {
  if (op.path === '/oauth/introspect' || op.path === '/oauth/revoked') return 'introspecting-client';
  if (!op.bearer) return undefined;
  // Moderators read users and enable or disable plain ones; everything else under /admin is the admin's.
  if (op.path === '/admin/users' || op.path === '/admin/users/{id}') return new Set(['admin', 'moderator']);
  if (op.path.startsWith('/admin/') || op.path === '/metrics') return new Set(['admin']);
  return new Set(['admin', 'moderator', 'user']);
}

export interface Snapshot {
  key: string;
  sums: Record<string, string | number>;
  /** Rows of sessions excluded from the sums (refresh-token reuse may end them). */
  exempt: Record<string, Record<string, unknown>>;
}

export interface Sent {
  options: InjectOptions;
  url: string;
  payloadText: string;
  headers: Record<string, string>;
}

export class Harness {
  requests = 0;
  /** Requests after which the snapshot differed (successful mutations, and refresh-token reuse). */
  stateChanges = 0;
  /** Refused refreshes that ended their session as reuse detection (CONTRACT §4) asks. */
  reuseEndings = 0;
  readonly statuses = new Map<number, number>();
  /** Per operation: answers by status and error code, to see what the run reached. */
  readonly perOperation = new Map<string, Map<string, number>>();
  /** With keepGoing, failures are collected here (kind -> count and first example) instead of thrown. */
  readonly failures = new Map<string, { count: number; example: string }>();
  keepGoing = false;
  private dirty = true;
  private last: Snapshot | undefined;

  private constructor(
    readonly built: Built,
    readonly operations: Operation[],
    readonly live: Live,
  ) {}

  static async create(built: Built, operations: Operation[]): Promise<Harness> {
    const actors = {} as Live['actors'];
    for (const name of ['admin', 'moderator', 'user'] as const) actors[name] = await newActor(built, name);
    const victim = await registerUser(built.services, {
      email: `victim-${process.pid}-${Date.now()}@example.com`,
      password: GOOD_PASSWORD,
      roles: ['user'],
    });
    if (!victim.created) throw new Error('victim exists');
    const introspector = await createClient(built.services.db, {
      name: 'fuzz-introspector',
      scopes: ['api:read'],
      grantTypes: ['client_credentials'],
      canIntrospect: true,
    });
    const plain = await createClient(built.services.db, {
      name: 'fuzz-plain',
      scopes: ['api:read', 'api:write'],
      grantTypes: ['client_credentials'],
      canIntrospect: false,
    });
    const live: Live = {
      issuer: built.config.issuer,
      actors,
      victim: { id: victim.user.id, email: victim.email },
      clients: {
        introspector: { id: introspector.client.id, secret: introspector.secret },
        plain: { id: plain.client.id, secret: plain.secret },
      },
      kids: [],
      accessJwk: {},
      etag: '',
      pool: { access: [], refresh: [] },
    };
    return new Harness(built, operations, live);
  }

  /** Makes sure every actor's token is live and carries the expected roles; replaces broken ones. */
  private async ensureLive(): Promise<void> {
    if (!this.dirty) return;
    const { app, services } = this.built;
    for (const name of ['admin', 'moderator', 'user'] as const) {
      const actor = this.live.actors[name];
      const info = await app.inject({
        method: 'GET',
        url: '/userinfo',
        headers: { authorization: `Bearer ${actor.access}` },
      });
      if (info.statusCode === 200 && sameRoles(info.json<{ roles: string[] }>().roles, ROLES[name])) continue;
      this.last = undefined;
      const [row] = await services.db.query<{ roles: string[]; disabled: boolean }>(
        'SELECT roles, disabled FROM users WHERE id = $1',
        [actor.id],
      );
      if (row && !row.disabled && sameRoles(row.roles, ROLES[name])) {
        const login = await app.inject({
          method: 'POST',
          url: '/auth/login',
          payload: { email: actor.email, password: GOOD_PASSWORD },
        });
        if (login.statusCode === 200) {
          const tokens = login.json<{ access_token: string; refresh_token: string }>();
          this.live.actors[name] = {
            ...actor,
            access: tokens.access_token,
            refresh: tokens.refresh_token,
            sid: String(decodeClaims(tokens.access_token).sid),
          };
          continue;
        }
      }
      // Disabled, demoted or its password changed by the fuzzer: a fresh one.
      this.live.actors[name] = await newActor(this.built, name);
    }
    const keys = await services.db.query<{ kid: string }>(
      `SELECT kid FROM signing_keys ORDER BY (purpose = 'access' AND state = 'current') DESC, created_at DESC, kid`,
    );
    this.live.kids = keys.map((k) => k.kid);
    const jwks = await app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    this.live.etag = String(jwks.headers.etag ?? '');
    const published = jwks.json<{ keys: Array<Record<string, unknown>> }>().keys;
    this.live.accessJwk = published.find((k) => k.kid === this.live.kids[0]) ?? published[0] ?? {};
    this.dirty = false;
  }

  /** Row counts and checksums of the tables whose change would matter; some sessions set aside. */
  private async snapshot(exemptSessions: string[]): Promise<Snapshot> {
    const key = exemptSessions.join(',');
    if (this.last && this.last.key === key) return this.last;
    const { db } = this.built.services;
    const sums = await tableSums(db, STATE_TABLES, key);
    const exempt: Snapshot['exempt'] = {};
    if (exemptSessions.length) {
      const rows = await db.query<{ id: string; row: Record<string, unknown> | string }>(
        `SELECT t.id::text AS id, row_to_json(t) AS row FROM sessions t WHERE t.id::text = ANY(string_to_array($1::text, ','))`,
        [key],
      );
      for (const r of rows)
        exempt[r.id] = typeof r.row === 'string' ? (JSON.parse(r.row) as Record<string, unknown>) : r.row;
    }
    return { key, sums, exempt };
  }

  /**
   * Sessions whose refresh token this request presents at the token endpoint after that token
   * was already rotated: CONTRACT §4 makes such a refused request end the session (reuse
   * detection), so those rows are compared apart.
   */
  private async reuseExemptions(c: RequestCase, sent: Sent): Promise<string[]> {
    if (c.op.path !== '/oauth/token') return [];
    const candidates = new Set([...this.live.pool.refresh, ...Object.values(this.live.actors).map((a) => a.refresh)]);
    const presented = [...candidates].filter(
      (token) => sent.payloadText.includes(token) || Object.values(sent.headers).some((h) => h.includes(token)),
    );
    const out: string[] = [];
    for (const token of presented) {
      const claims = decodeClaims(token);
      if (typeof claims.sid !== 'string' || typeof claims.jti !== 'string') continue;
      const [row] = await this.built.services.db.query<{ current_jti: string }>(
        'SELECT current_jti::text AS current_jti FROM sessions WHERE id::text = $1',
        [claims.sid],
      );
      if (row && row.current_jti !== claims.jti) out.push(claims.sid);
    }
    return [...new Set(out)].sort();
  }

  build(c: RequestCase): Sent {
    const live = this.live;
    let path = c.op.path;
    for (const [name, { value, raw }] of Object.entries(c.path)) {
      const v = resolveVal(value, live);
      path = path.replace(`{${name}}`, raw ? v : encodeLoose(v));
    }
    const query = c.query
      .map(([name, value, raw]) =>
        name === '' && raw
          ? resolveVal(value, live)
          : `${encodeLoose(name)}=${raw ? resolveVal(value, live) : encodeLoose(resolveVal(value, live))}`,
      )
      .join('&');
    const url = query ? `${path}?${query}` : path;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(c.headers)) headers[name] = headerSafe(resolveVal(value, live));
    if (c.credential.kind !== 'none') headers.authorization = headerSafe(resolveVal(c.credential.header, live));
    const body = c.body;
    if (body.contentType !== undefined) headers['content-type'] = headerSafe(body.contentType);
    let payload: string | Buffer | undefined;
    switch (body.kind) {
      case 'none':
        payload = undefined;
        break;
      case 'tree': {
        const json = JSON.stringify(resolveTree(body.tree, live)) ?? 'null';
        payload = body.rewrite ? body.rewrite.fn(json) : json;
        break;
      }
      case 'pairs':
        payload = body.pairs
          .map(
            ([name, value, raw]) =>
              `${encodeLoose(name)}=${raw ? resolveVal(value, live) : encodeLoose(resolveVal(value, live))}`,
          )
          .join('&');
        break;
      case 'text':
        payload = body.text;
        break;
      case 'bytes':
        payload = Buffer.from(body.bytes);
        break;
    }
    const options: InjectOptions = {
      method: c.method,
      url,
      headers,
      remoteAddress: c.remoteAddress,
      ...(payload !== undefined ? { payload } : {}),
    };
    return { options, url, headers, payloadText: payload === undefined ? '' : payload.toString() };
  }

  /** One generated request, sent and checked. */
  async run(c: RequestCase): Promise<void> {
    await this.ensureLive();
    const sent = this.build(c);
    const exempt = await this.reuseExemptions(c, sent);
    const before = await this.snapshot(exempt);
    const res = await this.built.app.inject(sent.options);
    this.last = undefined;
    const after = await this.snapshot(exempt);
    this.last = after;
    this.count(c.op.id, res.statusCode, res.statusCode >= 400 ? errorCodeOf(res) : undefined);
    if (process.env.FUZZ_TRACE === '1') process.stderr.write(`${describeExchange(sent, res)}\n\n`);
    const changed =
      JSON.stringify(before.sums) !== JSON.stringify(after.sums) ||
      JSON.stringify(before.exempt) !== JSON.stringify(after.exempt);
    if (changed) {
      this.dirty = true;
      this.stateChanges += 1;
    }
    try {
      this.check(c, sent, res, before, after);
    } catch (error) {
      if (!this.keepGoing) throw error;
      // Long runs collect every kind of failure instead of stopping at the first.
      const message = (error as Error).message;
      const kind = `${c.op.id} | ${message
        .split('\n')[0]!
        .replace(/ session [0-9a-f-]{36}/, ' session …')
        .replace(/ \(\{.*$/, '')} [${res.statusCode}]`;
      const seen = this.failures.get(kind);
      if (seen) seen.count += 1;
      else this.failures.set(kind, { count: 1, example: message });
    } finally {
      this.harvest(res);
    }
  }

  private count(op: string, status: number, error: string | undefined) {
    this.requests += 1;
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    const per = this.perOperation.get(op) ?? new Map<string, number>();
    const key = error ? `${status}/${error}` : String(status);
    per.set(key, (per.get(key) ?? 0) + 1);
    this.perOperation.set(op, per);
  }

  /** Tokens the service hands out feed later cases (reuse, revocation, introspection). */
  private harvest(res: LightMyRequestResponse) {
    if (res.statusCode !== 200) return;
    let body: unknown;
    try {
      body = res.json();
    } catch {
      return;
    }
    const b = body as { access_token?: unknown; refresh_token?: unknown };
    const keep = (list: string[], token: unknown) => {
      if (typeof token !== 'string') return;
      list.push(token);
      if (list.length > 50) list.shift();
    };
    keep(this.live.pool.access, b.access_token);
    keep(this.live.pool.refresh, b.refresh_token);
  }

  /** The oracle: throws an AssertionError naming the broken property. Public for its own test. */
  check(c: RequestCase, sent: Sent, res: LightMyRequestResponse, before: Snapshot, after: Snapshot): void {
    const label = describeExchange(sent, res);
    const status = res.statusCode;
    assert.ok(status < 500, `never a 5xx\n${label}`);

    // The status is one the operation documents. A path that reaches no operation is a 404, but
    // Fastify parses a body before its not-found handler runs, so an unknown route may refuse
    // the body (400, 413, 415) first, and an undecodable path is a 400 before any routing.
    const pathname = new URL(sent.url, 'http://localhost').pathname;
    const target = routeOf(this.operations, c.method, pathname);
    const documented = target ? target.statuses : new Set([404, 400, 413, 415]);
    assert.ok(
      documented.has(status),
      `status ${status} is not documented for ${target?.id ?? `${c.method} ${pathname} (no operation)`} (documented: ${[...documented].join(', ')})\n${label}`,
    );

    // Nothing internal in any answer, success or not.
    const text = scannable(res);
    assert.doesNotMatch(text, INTERNALS, `internals in the answer\n${label}`);
    if (!(target && LIBRARY_NAMES_ALLOWED.has(target.id) && status === 200))
      assert.doesNotMatch(text, LIBRARY_NAMES, `a library name in the answer\n${label}`);

    if (status >= 400) {
      checkErrorBody(res, sent, label);
      // A refused request changes nothing that matters.
      assert.deepEqual(after.sums, before.sums, `a refused request changed the stored state\n${label}`);
      for (const [sid, was] of Object.entries(before.exempt)) {
        const now = after.exempt[sid];
        if (JSON.stringify(now) === JSON.stringify(was)) continue;
        // Reuse of a rotated refresh token may end its session, and nothing else.
        const { ended_at: e0, end_reason: _r0, last_used_at: _l0, ...rest0 } = was;
        const { ended_at: e1, end_reason: r1, last_used_at: _l1, ...rest1 } = now ?? {};
        this.reuseEndings += 1;
        assert.ok(
          e0 === null && e1 !== null && r1 === 'refresh_reuse',
          `a refused refresh changed session ${sid} without ending it (${JSON.stringify(was)} -> ${JSON.stringify(now)})\n${label}`,
        );
        assert.deepEqual(rest1, rest0, `a refused refresh changed more than the end of session ${sid}\n${label}`);
      }
    }

    if (status >= 200 && status < 300) {
      if (target?.jsonStatuses.has(status))
        assert.doesNotThrow(() => res.json(), `a documented JSON answer is JSON\n${label}`);
      // Token responses and client secrets are never cached (RFC 6749 5.1).
      if (/"(access_token|client_secret)"/.test(res.body))
        assert.match(
          String(res.headers['cache-control']),
          /no-store/,
          `a token answer without Cache-Control: no-store\n${label}`,
        );
      const who = target ? mayAccess(target) : undefined;
      if (who === 'introspecting-client') {
        const secret = this.live.clients.introspector.secret;
        const presented =
          Object.values(sent.headers).some((h) => decodesTo(h, secret)) ||
          sent.payloadText.includes(encodeURIComponent(secret)) ||
          sent.payloadText.includes(secret);
        assert.ok(
          presented,
          `${target!.id} answered ${status} without the introspecting client's credentials\n${label}`,
        );
      } else if (who) {
        const presented = this.presentedActor(sent.headers.authorization);
        if (presented !== 'unknown') {
          assert.ok(
            presented !== undefined && who.has(presented),
            `${target!.id} answered ${status} to ${presented ?? 'no valid credentials'}\n${label}`,
          );
        }
      }
    }
  }

  /** Which actor a bearer header authenticates, 'unknown' for run-issued user tokens of any account. */
  private presentedActor(header: string | undefined): ActorName | 'unknown' | undefined {
    const match = typeof header === 'string' ? /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header) : null;
    if (!match) return undefined;
    const token = match[1]!;
    for (const [name, actor] of Object.entries(this.live.actors)) if (actor.access === token) return name as ActorName;
    if (this.live.pool.access.includes(token) && typeof decodeClaims(token).sid === 'string') return 'unknown';
    return undefined;
  }
}

/** The tables a refused request must leave as they were, each with its primary key. */
export const STATE_TABLES: ReadonlyArray<readonly [table: string, key: string]> = [
  ['users', 'id'],
  ['sessions', 'id'],
  ['clients', 'id'],
  ['signing_keys', 'kid'],
];

/** Row count and checksum of each table; sessions whose id is in exemptSessions (comma-separated) are left out. */
export async function tableSums(
  db: Queryable,
  tables = STATE_TABLES,
  exemptSessions = '',
): Promise<Record<string, string | number>> {
  const sum = ([table, key]: readonly [string, string]) => {
    const where = table === 'sessions' ? `NOT (t.id::text = ANY(string_to_array($1::text, ',')))` : 'true';
    // The audit sealer fills an event's leaf_index and hash in the background: not a change.
    const row = table === 'security_events' ? `(to_jsonb(t) - 'leaf_index' - 'hash')::text` : 't::text';
    return `(SELECT count(*)::int FROM ${table} t WHERE ${where}) AS "${table}_rows", (SELECT coalesce(md5(string_agg(${row}, '|' ORDER BY t.${key})), '') FROM ${table} t WHERE ${where}) AS "${table}_sum"`;
  };
  const params = tables.some(([table]) => table === 'sessions') ? [exemptSessions] : [];
  const [sums] = await db.query<Record<string, string | number>>(`SELECT ${tables.map(sum).join(', ')}`, params);
  return sums!;
}

async function newActor(built: Built, name: ActorName): Promise<Live['actors'][ActorName]> {
  const u = await userWithRoles(built, ROLES[name] as ('admin' | 'moderator' | 'user')[]);
  return {
    id: u.id,
    email: u.email,
    access: u.tokens.access_token,
    refresh: u.tokens.refresh_token,
    sid: String(decodeClaims(u.tokens.access_token).sid),
  };
}

const errorCodeOf = (res: LightMyRequestResponse) => {
  try {
    return String(res.json<{ error?: unknown }>().error);
  } catch {
    return 'not-json';
  }
};

const sameRoles = (a: readonly string[], b: readonly string[]) => [...a].sort().join(' ') === [...b].sort().join(' ');

const decodesTo = (header: string, secret: string) => {
  const m = /^basic\s+(.+)$/i.exec(header);
  return m ? Buffer.from(m[1]!, 'base64').toString('utf8').includes(secret) : false;
};

/** The answer's text, less the fields that carry caller data or random material. */
function scannable(res: LightMyRequestResponse): string {
  const text = res.body;
  if (!/json/.test(String(res.headers['content-type'] ?? ''))) return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text;
  }
  const parts: string[] = [];
  const walk = (v: unknown, key: string) => {
    if (Array.isArray(v)) v.forEach((x) => walk(x, key));
    else if (v !== null && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) {
        parts.push(k);
        walk(x, k);
      }
    else if (!OPAQUE_FIELDS.has(key)) parts.push(String(v));
  };
  walk(parsed, '');
  return parts.join('\n');
}

/** Every refusal: {error, error_description} (captcha_required adds its two documented fields), generic, echoing nothing. */
function checkErrorBody(res: LightMyRequestResponse, sent: Sent, label: string): void {
  // The browser-facing routes refuse with the error page: HTML, no script, nothing echoed raw.
  if (/^text\/html; charset=utf-8$/.test(String(res.headers['content-type']))) {
    const path = new URL(sent.url, 'http://localhost').pathname;
    assert.ok(path.startsWith('/oauth/') || path.startsWith('/account/'), `HTML only on the hosted pages\n${label}`);
    assert.doesNotMatch(res.body, /<script/i, `no script on an error page\n${label}`);
    assert.match(String(res.headers['content-security-policy']), /default-src 'none'/, `the page's CSP\n${label}`);
    return;
  }
  let body: Record<string, unknown>;
  try {
    body = res.json<Record<string, unknown>>();
  } catch {
    assert.fail(`a refusal has a JSON body\n${label}`);
  }
  if (body.error === 'captcha_required') {
    assert.deepEqual(
      Object.keys(body).filter(
        (k) => !['error', 'error_description', 'captcha_provider', 'captcha_sitekey'].includes(k),
      ),
      [],
      `captcha body\n${label}`,
    );
  } else {
    try {
      assertSafeErrorShape(res);
    } catch (error) {
      assert.fail(`${(error as Error).message}\n${label}`);
    }
  }
  let known = true;
  try {
    void new TesseraError(body.error as ErrorCode);
  } catch {
    known = false;
  }
  assert.ok(known, `error code ${String(body.error)} is one of ours\n${label}`);
  const description = String(body.error_description);
  assert.ok(description.length > 0 && description.length <= 200, `a short description\n${label}`);
  // Nothing the caller sent comes back: no reflected input in a refusal.
  for (const piece of inputPieces(sent))
    assert.ok(!description.includes(piece), `the refusal echoes input ${JSON.stringify(piece.slice(0, 60))}\n${label}`);
}

/** Distinctive pieces of what was sent (decoded), for the no-echo check. */
function inputPieces(sent: Sent): string[] {
  const pieces = new Set<string>();
  const add = (s: string) => {
    for (const part of s.split(/[&=;,\s]+/)) {
      let decoded = part;
      try {
        decoded = decodeURIComponent(part.replace(/\+/g, ' '));
      } catch {
        /* as is */
      }
      if (decoded.length >= 12) pieces.add(decoded);
    }
  };
  add(sent.url);
  add(sent.payloadText);
  for (const v of Object.values(sent.headers)) add(v);
  return [...pieces];
}

export function describeExchange(sent: Sent, res: LightMyRequestResponse): string {
  const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}…(${s.length} chars)` : s);
  const headers = Object.entries(sent.headers).map(([k, v]) => `${k}: ${cut(v, 120)}`);
  return [
    `  request:  ${sent.options.method} ${cut(sent.url, 300)}`,
    ...headers.map((h) => `            ${h}`),
    `  body:     ${cut(JSON.stringify(sent.payloadText), 400)}`,
    `  response: ${res.statusCode} ${cut(res.body, 400)}`,
  ].join('\n');
}

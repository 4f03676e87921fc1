// openapi.yaml is generated from the route schemas: the committed file must match the
// code, and every operation must declare what it answers and what it accepts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { generateOpenapi } from '../src/openapi.js';

const COMMITTED = new URL('../openapi.yaml', import.meta.url);
const STALE = 'openapi.yaml is out of date: run `npm run openapi` and commit the result';

/** Statuses whose responses carry no body by definition (RFC 9110 15.3.5, 15.4.5). */
const BODYLESS_STATUSES = new Set(['204', '304']);
/** POST/PUT/PATCH operations that take no body; each entry needs a reason. */
const BODYLESS_OPERATIONS = new Set<string>([
  // Revocation acts on the key named in the path; there is nothing to send.
  'POST /admin/keys/{kid}/revoke',
  // A new secret for the client named in the path; nothing to send either.
  'POST /admin/clients/{id}/secret',
  // A reset mail to the user named in the path.
  'POST /admin/users/{id}/password-reset',
  // Passkey options and a new set of recovery codes are for the caller: nothing to send.
  'POST /users/me/mfa/webauthn/register/options',
  'POST /users/me/mfa/recovery-codes',
]);
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

interface Operation {
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}
interface Document {
  paths: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>>;
  components?: { schemas?: Record<string, unknown> };
}

const generated = generateOpenapi();

function operations(doc: Document): [string, Operation][] {
  const out: [string, Operation][] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (op) out.push([`${method.toUpperCase()} ${path}`, op]);
    }
  }
  return out;
}

const isSchema = (value: unknown) => typeof value === 'object' && value !== null && Object.keys(value).length > 0;

test('the committed openapi.yaml is what the code generates', async () => {
  let committed: string;
  try {
    committed = readFileSync(COMMITTED, 'utf8');
  } catch {
    assert.fail(`openapi.yaml is missing: run \`npm run openapi\` and commit the result`);
  }
  const current = await generated;
  if (current !== committed) {
    const a = current.split('\n');
    const b = committed.split('\n');
    const line = a.findIndex((text, i) => text !== b[i]);
    const at = line === -1 ? b.length : line;
    assert.fail(
      `${STALE} (first difference at line ${at + 1}: generated ${JSON.stringify(a[at] ?? '')}, committed ${JSON.stringify(b[at] ?? '')})`,
    );
  }
});

test('generating twice gives the same bytes', async () => {
  assert.equal(await generateOpenapi(), await generated, 'openapi generation is not deterministic');
});

test('every operation declares a response schema for each status it answers', async () => {
  const doc = parse(await generated) as Document;
  const ops = operations(doc);
  assert.ok(ops.length > 0, 'the document has operations');
  for (const [name, op] of ops) {
    const responses = Object.entries(op.responses ?? {});
    assert.ok(responses.length > 0, `${name} declares no responses`);
    assert.ok(
      responses.some(([status]) => /^2\d\d$/.test(status)),
      `${name} declares no success response`,
    );
    for (const [status, response] of responses) {
      assert.match(status, /^[1-5]\d\d$/, `${name} has a response keyed ${status}, not a status code`);
      if (BODYLESS_STATUSES.has(status)) {
        assert.equal(response.content, undefined, `${name} ${status} must not have a body`);
        continue;
      }
      const content = Object.entries(response.content ?? {});
      assert.ok(content.length > 0, `${name} answers ${status} without a response schema`);
      for (const [type, media] of content)
        assert.ok(isSchema(media.schema), `${name} ${status} ${type} has an empty schema`);
    }
  }
});

test('every POST, PUT and PATCH declares its body', async () => {
  const doc = parse(await generated) as Document;
  for (const [name, op] of operations(doc)) {
    if (!/^(POST|PUT|PATCH) /.test(name)) continue;
    if (BODYLESS_OPERATIONS.has(name)) {
      assert.equal(op.requestBody, undefined, `${name} now takes a body: take it off BODYLESS_OPERATIONS`);
      continue;
    }
    const content = Object.entries(op.requestBody?.content ?? {});
    assert.ok(content.length > 0, `${name} takes a body but declares no body schema`);
    for (const [type, media] of content) assert.ok(isSchema(media.schema), `${name} body ${type} has an empty schema`);
  }
});

test('every $ref points at a schema in components', async () => {
  const doc = parse(await generated) as Document;
  const names = new Set(Object.keys(doc.components?.schemas ?? {}));
  const refs: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === '$ref' && typeof value === 'string') refs.push(value);
        else walk(value);
      }
    }
  };
  walk(doc.paths);
  walk(doc.components);
  for (const ref of refs) {
    const match = /^#\/components\/schemas\/(.+)$/.exec(ref);
    assert.ok(match && names.has(match[1]!), `dangling $ref ${ref}`);
  }
});

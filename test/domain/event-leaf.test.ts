// The audit leaf format: canonical JSON (keys sorted at every depth, no spaces) of every
// column, fixed by a golden vector so a change to the format cannot pass unnoticed (it
// would make every sealed log fail to verify).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson, eventLeaf, eventLeafHash, type LeafEvent } from '../../src/domain/audit/event-leaf.js';

const EVENT: LeafEvent = {
  id: 42,
  created_at: '2026-12-02T05:07:27.123456Z',
  type: 'login_failure',
  outcome: 'failure',
  actor: null,
  target: 'acct',
  user_id: null,
  session_id: null,
  ip: '192.0.2.1',
  user_agent: 'probe/1.0 "quoted" \u00e9',
  request_id: 'req-1',
  detail: { z: 1, a: { y: [2, 'x', null, true], b: 1.5 } },
};

test('canonical JSON sorts keys at every depth and writes no spaces', () => {
  assert.equal(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }], e: 'é' }), '{"a":[{"c":2,"d":1}],"b":1,"e":"é"}');
  assert.equal(canonicalJson({ a: undefined, b: null }), '{"b":null}');
  assert.throws(() => canonicalJson({ a: Number.NaN }), TypeError);
  assert.throws(() => canonicalJson({ a: 1n }), TypeError);
});

test('the leaf of an event is fixed: golden vector', () => {
  assert.equal(
    Buffer.from(eventLeaf(EVENT)).toString('utf8'),
    '{"actor":null,"created_at":"2026-12-02T05:07:27.123456Z","detail":{"a":{"b":1.5,"y":[2,"x",null,true]},"z":1},' +
      '"id":42,"ip":"192.0.2.1","outcome":"failure","request_id":"req-1","session_id":null,"target":"acct",' +
      '"type":"login_failure","user_agent":"probe/1.0 \\"quoted\\" é","user_id":null,"v":1}',
  );
  // SHA-256(0x00 || leaf), computed independently (Python hashlib) from the text above.
  assert.equal(
    Buffer.from(eventLeafHash(EVENT)).toString('hex'),
    'ceae81490d6e754074f09facb11a6f19c8b927c410e9f34b97e707b488485e42',
  );
});

test('every column is covered: changing any one changes the leaf hash', () => {
  const base = Buffer.from(eventLeafHash(EVENT)).toString('hex');
  const changes: Partial<LeafEvent>[] = [
    { id: 43 },
    { created_at: '2026-12-02T05:07:27.123457Z' },
    { type: 'login_success' },
    { outcome: 'success' },
    { actor: 'x' },
    { target: null },
    { user_id: '00000000-0000-0000-0000-000000000000' },
    { session_id: '00000000-0000-0000-0000-000000000000' },
    { ip: '192.0.2.2' },
    { user_agent: null },
    { request_id: 'req-2' },
    { detail: { z: 2, a: { y: [2, 'x', null, true], b: 1.5 } } },
  ];
  for (const change of changes) {
    assert.notEqual(Buffer.from(eventLeafHash({ ...EVENT, ...change })).toString('hex'), base, JSON.stringify(change));
  }
});

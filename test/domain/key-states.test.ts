// The key state machine, without a database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkInvariants,
  planRevocation,
  planRotation,
  planTick,
  type KeyRecord,
  type RotationSettings,
} from '../../src/domain/keys/key-states.js';

const T0 = new Date('2026-01-01T00:00:00Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);
const settings: RotationSettings = {
  publishAhead: 300,
  rotationInterval: 0,
  retention: { access: 660, refresh: 2_592_060 },
};

const key = (kid: string, over: Partial<KeyRecord> = {}): KeyRecord => ({
  kid,
  purpose: 'access',
  alg: 'ES256',
  state: 'current',
  createdAt: T0,
  activatesAt: T0,
  activatedAt: T0,
  retiredAt: null,
  expiresAt: null,
  revokedAt: null,
  ...over,
});
const refreshKey = key('r1', { purpose: 'refresh' });

test('nothing to do while the next key is still being published', () => {
  const keys = [key('a'), key('b', { state: 'next', activatesAt: at(300) }), refreshKey];
  assert.deepEqual(planTick(keys, at(299), settings), []);
});

test('a due next key is promoted and the current one retired for the retention time', () => {
  const keys = [key('a'), key('b', { state: 'next', activatesAt: at(300) }), refreshKey];
  const plan = planTick(keys, at(300), settings);
  assert.deepEqual(plan, [
    { kind: 'promote', purpose: 'access', promote: 'b', retire: 'a', retiredExpiresAt: at(960) },
  ]);
});

test('automatic rotation starts a next key once the current one is older than the interval', () => {
  const auto = { ...settings, rotationInterval: 3600 };
  const keys = [key('a', { activatedAt: T0 }), refreshKey];
  assert.deepEqual(
    planTick(keys, at(3599), auto).filter((s) => s.purpose === 'access'),
    [],
  );
  const plan = planTick(keys, at(3600), auto).filter((s) => s.purpose === 'access');
  assert.deepEqual(plan, [{ kind: 'create-next', purpose: 'access', activatesAt: at(3900) }]);
  // With one pending, no second rotation starts.
  const pending = [...keys, key('b', { state: 'next', activatesAt: at(3900) })];
  assert.deepEqual(
    planTick(pending, at(3700), auto).filter((s) => s.purpose === 'access'),
    [],
  );
});

test('a manual rotation is refused while one is pending', () => {
  assert.deepEqual(planRotation([key('a')], 'access', at(10), settings), {
    kind: 'create-next',
    purpose: 'access',
    activatesAt: at(310),
  });
  assert.equal(planRotation([key('a'), key('b', { state: 'next' })], 'access', at(10), settings), undefined);
  // Purposes rotate independently.
  assert.ok(planRotation([key('a'), key('b', { state: 'next' }), refreshKey], 'refresh', at(10), settings));
});

test('revocation: unknown, repeated, of a retired key, and of the signing key', () => {
  const keys = [
    key('a'),
    key('old', { state: 'retired', retiredAt: T0, expiresAt: at(600) }),
    key('gone', { state: 'revoked' }),
  ];
  assert.deepEqual(planRevocation(keys, 'nope'), { kind: 'unknown' });
  assert.deepEqual(planRevocation(keys, 'gone'), { kind: 'already-revoked' });
  assert.deepEqual(planRevocation(keys, 'old'), {
    kind: 'revoke',
    purpose: 'access',
    wasCurrent: false,
    promote: null,
  });
  assert.deepEqual(planRevocation(keys, 'a'), { kind: 'revoke', purpose: 'access', wasCurrent: true, promote: null });
  const withNext = [...keys, key('b', { state: 'next', activatesAt: at(300) })];
  assert.deepEqual(planRevocation(withNext, 'a'), {
    kind: 'revoke',
    purpose: 'access',
    wasCurrent: true,
    promote: 'b',
  });
});

test('the invariants: at most one current and one next key per purpose', () => {
  assert.doesNotThrow(() => checkInvariants([key('a'), key('b', { state: 'next' }), refreshKey]));
  assert.throws(() => checkInvariants([key('a'), key('b')]), /2 current access keys/);
  assert.throws(
    () => checkInvariants([key('a'), key('b', { state: 'next' }), key('c', { state: 'next' })]),
    /2 next access keys/,
  );
  assert.throws(() => planTick([key('a'), key('b')], T0, settings));
});

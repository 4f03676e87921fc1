// Pure session, grant and key-state decisions: refresh rotation outcomes, refresh
// expiry, scope and audience resolution, and which signing keys are trusted or published.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyRotation, refreshTokenExpiry } from '../../src/domain/sessions/refresh-family.js';
import { isSubsetScope, resolveAudience, resolveScope } from '../../src/domain/tokens/grant-request.js';
import { currentKey, isTrusted, publishedKeys, type KeyRecord } from '../../src/domain/keys/key-states.js';

const NOW = new Date('2030-01-01T12:00:00Z');
const seconds = (n: number) => new Date(NOW.getTime() + n * 1000);

// --- refresh family -----------------------------------------------------------------

test('classifyRotation: no row means no live session', () => {
  assert.deepEqual(classifyRotation(undefined, 'new-jti'), { kind: 'invalid' });
});

test('classifyRotation: an ended family is reuse, whatever its jti', () => {
  assert.deepEqual(classifyRotation({ current_jti: 'new-jti', current_issued_at: NOW, ended_at: NOW }, 'new-jti'), {
    kind: 'reuse',
  });
  assert.deepEqual(
    classifyRotation({ current_jti: 'other', current_issued_at: NOW, ended_at: '2030-01-01T12:00:00Z' }, 'new-jti'),
    { kind: 'reuse' },
  );
});

test('classifyRotation: our jti became current, so this request rotated', () => {
  const outcome = classifyRotation({ current_jti: 'new-jti', current_issued_at: NOW, ended_at: null }, 'new-jti');
  assert.deepEqual(outcome, { kind: 'rotated', jti: 'new-jti', issuedAt: NOW });
});

test('classifyRotation: another jti is current, so this is a replay that gets that same successor', () => {
  const outcome = classifyRotation(
    { current_jti: 'winner-jti', current_issued_at: '2030-01-01T12:00:00.000Z', ended_at: null },
    'loser-jti',
  );
  assert.equal(outcome.kind, 'replayed');
  assert.ok(outcome.kind === 'replayed');
  assert.equal(outcome.jti, 'winner-jti', 'never a second branch');
  assert.ok(outcome.issuedAt instanceof Date);
  assert.equal(outcome.issuedAt.getTime(), NOW.getTime(), 'a string timestamp from the driver is parsed');
});

test('refreshTokenExpiry: the idle end, unless the session ends first', () => {
  const idle = 604_800;
  assert.deepEqual(refreshTokenExpiry(NOW, seconds(2_592_000), idle), seconds(idle));
  assert.deepEqual(refreshTokenExpiry(NOW, seconds(3_600), idle), seconds(3_600));
  assert.deepEqual(refreshTokenExpiry(NOW, seconds(idle), idle), seconds(idle));
});

test('refreshTokenExpiry is deterministic, so a grace replay reproduces the same claims', () => {
  const a = refreshTokenExpiry(new Date(NOW), seconds(10_000), 600);
  const b = refreshTokenExpiry(new Date(NOW), seconds(10_000), 600);
  assert.equal(a.getTime(), b.getTime());
});

// --- grant request --------------------------------------------------------------------

const ALLOWED = ['openid', 'profile', 'email'];

test('resolveScope: no request grants everything allowed', () => {
  assert.equal(resolveScope(undefined, ALLOWED), 'openid profile email');
});

test('resolveScope: a subset is granted, duplicates collapse', () => {
  assert.equal(resolveScope('email', ALLOWED), 'email');
  assert.equal(resolveScope('profile openid', ALLOWED), 'profile openid');
  assert.equal(resolveScope('email email', ALLOWED), 'email');
});

test('resolveScope: anything outside the allowed set, or malformed, is refused', () => {
  assert.equal(resolveScope('admin', ALLOWED), undefined);
  assert.equal(resolveScope('openid admin', ALLOWED), undefined);
  assert.equal(resolveScope('', ALLOWED), undefined);
  assert.equal(resolveScope(' ', ALLOWED), undefined);
  assert.equal(resolveScope(' openid', ALLOWED), undefined);
  assert.equal(resolveScope('openid ', ALLOWED), undefined);
  assert.equal(resolveScope('openid  email', ALLOWED), undefined);
  assert.equal(resolveScope('openid\temail', ALLOWED), undefined);
  assert.equal(resolveScope('OPENID', ALLOWED), undefined, 'scopes are case-sensitive');
  assert.equal(resolveScope('openid', []), undefined);
});

const AUDIENCE_SETTINGS = {
  defaultAudience: 'https://id.example.com',
  audiences: ['https://api.example.com', 'https://billing.example.com'],
};

test('resolveAudience: default without a resource, exact match with one', () => {
  assert.equal(resolveAudience(undefined, AUDIENCE_SETTINGS), 'https://id.example.com');
  assert.equal(resolveAudience('https://billing.example.com', AUDIENCE_SETTINGS), 'https://billing.example.com');
});

test('resolveAudience: an unlisted or merely similar resource is refused', () => {
  assert.equal(resolveAudience('https://evil.example.com', AUDIENCE_SETTINGS), undefined);
  assert.equal(resolveAudience('https://api.example.com/', AUDIENCE_SETTINGS), undefined);
  assert.equal(resolveAudience('https://api.example.com.evil.net', AUDIENCE_SETTINGS), undefined);
  assert.equal(resolveAudience('', AUDIENCE_SETTINGS), undefined);
  assert.equal(resolveAudience('https://api.example.com', { ...AUDIENCE_SETTINGS, audiences: [] }), undefined);
});

test('isSubsetScope: a refresh may narrow the granted scope, never widen it', () => {
  assert.equal(isSubsetScope('openid', 'openid profile email'), true);
  assert.equal(isSubsetScope('email openid', 'openid profile email'), true);
  assert.equal(isSubsetScope('openid profile email', 'openid profile email'), true);
  assert.equal(isSubsetScope('openid admin', 'openid profile email'), false);
  assert.equal(isSubsetScope('admin', ''), false);
  assert.equal(isSubsetScope('', 'openid'), false, 'an empty request is not a subset');
  assert.equal(isSubsetScope('open', 'openid'), false, 'no prefix matching');
});

// --- key states -------------------------------------------------------------------------

function key(kid: string, overrides: Partial<KeyRecord> = {}): KeyRecord {
  return {
    kid,
    purpose: 'access',
    alg: 'ES256',
    state: 'current',
    createdAt: NOW,
    activatesAt: NOW,
    retiredAt: null,
    expiresAt: null,
    revokedAt: null,
    ...overrides,
  };
}

test('isTrusted: next, current and unexpired retired keys; never revoked or expired ones', () => {
  assert.equal(isTrusted(key('n', { state: 'next' }), NOW), true);
  assert.equal(isTrusted(key('c'), NOW), true);
  assert.equal(isTrusted(key('r', { state: 'retired', retiredAt: seconds(-60), expiresAt: seconds(60) }), NOW), true);
  assert.equal(
    isTrusted(key('r', { state: 'retired', retiredAt: seconds(-600), expiresAt: NOW }), NOW),
    false,
    'expiry is exclusive',
  );
  assert.equal(isTrusted(key('r', { state: 'retired', retiredAt: seconds(-600), expiresAt: seconds(-1) }), NOW), false);
  assert.equal(isTrusted(key('x', { state: 'revoked', revokedAt: seconds(-1) }), NOW), false);
  assert.equal(
    isTrusted(key('x', { state: 'revoked', revokedAt: seconds(-1), expiresAt: seconds(3600) }), NOW),
    false,
    'revoked leaves at once',
  );
});

test('publishedKeys: trusted access keys only, newest first', () => {
  const keys = [
    key('retired-live', { state: 'retired', createdAt: seconds(-200), expiresAt: seconds(100) }),
    key('current', { createdAt: seconds(-100) }),
    key('next', { state: 'next', createdAt: seconds(-10), activatesAt: seconds(290) }),
    key('retired-expired', { state: 'retired', createdAt: seconds(-900), expiresAt: seconds(-1) }),
    key('revoked', { state: 'revoked', createdAt: seconds(-50), revokedAt: seconds(-5) }),
    key('refresh-current', { purpose: 'refresh', createdAt: seconds(-20) }),
    key('refresh-next', { purpose: 'refresh', state: 'next', createdAt: seconds(-5) }),
  ];
  assert.deepEqual(
    publishedKeys(keys, NOW).map((k) => k.kid),
    ['next', 'current', 'retired-live'],
  );
  assert.deepEqual(publishedKeys([], NOW), []);
});

test('publishedKeys: a retired key leaves once its retention ends', () => {
  const retired = key('old', { state: 'retired', expiresAt: seconds(600) });
  assert.equal(publishedKeys([retired], seconds(599)).length, 1);
  assert.equal(publishedKeys([retired], seconds(600)).length, 0);
});

test('currentKey: the one current key per purpose, undefined when none, throws when two', () => {
  const access = key('access-current');
  const refresh = key('refresh-current', { purpose: 'refresh' });
  const keys = [key('next', { state: 'next' }), access, refresh, key('retired', { state: 'retired' })];
  assert.equal(currentKey(keys, 'access'), access);
  assert.equal(currentKey(keys, 'refresh'), refresh);
  assert.equal(currentKey([key('n', { state: 'next' })], 'access'), undefined);
  assert.throws(() => currentKey([access, key('second-current')], 'access'), /invariant/);
  assert.equal(currentKey([access, key('second-current')], 'refresh'), undefined, 'the other purpose is unaffected');
});

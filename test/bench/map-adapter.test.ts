// The database-free peer's adapter keeps what oidc-provider's own in-memory adapter would
// evict, and follows the same rules as the PostgreSQL one: expiry, consume, grant revocation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapAdapter } from '../../bench/peers/oidc-provider-map-adapter.js';

test('nothing is evicted: far more entries than the built-in adapter keeps stay findable', async () => {
  const refresh = mapAdapter()('RefreshToken');
  for (let i = 0; i < 5000; i++) await refresh.upsert(`t${i}`, { grantId: `g${i}` }, 3600);
  assert.deepEqual(await refresh.find('t0'), { grantId: 'g0' });
  assert.deepEqual(await refresh.find('t4999'), { grantId: 'g4999' });
});

test('an expired entry is not returned, a consumed one carries consumed', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const refresh = mapAdapter()('RefreshToken');
  await refresh.upsert('short', { grantId: 'g' }, 10);
  await refresh.upsert('long', { grantId: 'g' }, 100);
  await refresh.consume('long');
  t.mock.timers.tick(11_000);
  assert.equal(await refresh.find('short'), undefined);
  assert.equal((await refresh.find('long'))?.consumed, 1000, 'consumed when consume ran, in epoch seconds');
});

test('revokeByGrantId removes that grant tokens of that model only', async () => {
  const adapters = mapAdapter();
  const refresh = adapters('RefreshToken');
  const access = adapters('AccessToken');
  await refresh.upsert('a', { grantId: 'g1' });
  await refresh.upsert('b', { grantId: 'g2' });
  await access.upsert('c', { grantId: 'g1' });
  await refresh.revokeByGrantId('g1');
  assert.equal(await refresh.find('a'), undefined);
  assert.deepEqual(await refresh.find('b'), { grantId: 'g2' });
  assert.deepEqual(await access.find('c'), { grantId: 'g1' });
  assert.equal(adapters('RefreshToken'), refresh, 'one adapter per model');
});

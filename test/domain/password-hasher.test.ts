// PasswordHasher: argon2id at the OWASP minimum or above, exact verification (no
// truncation, NFKC), oversize input refused before hashing, a bounded work queue.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HasherBusyError, PasswordHasher, type HasherOptions } from '../../src/domain/passwords/password-hasher.js';
import { MAX_PASSWORD_BYTES } from '../../src/domain/passwords/password-policy.js';

const OPTIONS: HasherOptions = { memoryCost: 19_456, timeCost: 2, parallelism: 1, concurrency: 4, queue: 32 };

test('hash is argon2id with m >= 19456, t >= 2, p >= 1, and verifies exactly', async () => {
  const hasher = new PasswordHasher(OPTIONS);
  const hash = await hasher.hash('lantern moss quiet harbor');
  // PHC string; this argon2 build writes the parameters as m,p,t, so read them by name.
  const match = /^\$argon2id\$v=19\$([a-z]=\d+(?:,[a-z]=\d+)*)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/.exec(hash);
  assert.ok(match?.[1], `unexpected hash format: ${hash}`);
  const params = Object.fromEntries(match[1].split(',').map((kv) => [kv[0], Number(kv.slice(2))]));
  assert.ok(params.m !== undefined && params.m >= 19_456, `m=${params.m}`);
  assert.ok(params.t !== undefined && params.t >= 2, `t=${params.t}`);
  assert.ok(params.p !== undefined && params.p >= 1, `p=${params.p}`);
  assert.equal(await hasher.verify(hash, 'lantern moss quiet harbor'), true);
  assert.equal(await hasher.verify(hash, 'lantern moss quiet harbour'), false);
  assert.equal(await hasher.verify(hash, ''), false);
  assert.equal(
    await hasher.verify('not-a-hash', 'lantern moss quiet harbor'),
    false,
    'a broken hash is false, not a throw',
  );
});

test('long passwords are not truncated, and NFKC-equivalent input verifies', async () => {
  const hasher = new PasswordHasher(OPTIONS);
  const long = 'x'.repeat(199) + 'a';
  const hash = await hasher.hash(long);
  assert.equal(await hasher.verify(hash, long), true);
  assert.equal(await hasher.verify(hash, 'x'.repeat(199) + 'b'), false, 'the 200th character counts');

  const wide = await hasher.hash('ｃｏｒｒｅｃｔ ｈｏｒｓｅ ｂａｔｔｅｒｙ');
  assert.equal(await hasher.verify(wide, 'correct horse battery'), true);
});

test('an oversize password is false without touching the hashing queue', async () => {
  // concurrency 1, queue 0: while one hash runs, any queued work would throw Busy.
  const hasher = new PasswordHasher({ ...OPTIONS, concurrency: 1, queue: 0 });
  const running = hasher.hash('occupies the only slot');
  assert.deepEqual(hasher.depth, { running: 1, queued: 0 });
  await assert.rejects(hasher.verify('$argon2id$v=19$m=19456,t=2,p=1$AAAA$AAAA', 'short'), HasherBusyError);
  assert.equal(
    await hasher.verify('$argon2id$v=19$m=19456,t=2,p=1$AAAA$AAAA', 'x'.repeat(MAX_PASSWORD_BYTES + 1)),
    false,
  );
  await running;
});

test('verifyDummy is always false, even for the dummy password itself', async () => {
  const hasher = new PasswordHasher(OPTIONS);
  await hasher.warm();
  assert.equal(await hasher.verifyDummy('tessera-dummy-password-for-timing'), false);
  assert.equal(await hasher.verifyDummy('anything else'), false);
  assert.deepEqual(hasher.depth, { running: 0, queued: 0 });
});

test('bounded queue: past concurrency + queue, callers get Busy at once', async () => {
  const hasher = new PasswordHasher({ ...OPTIONS, concurrency: 1, queue: 2 });
  const order: string[] = [];
  const attempts = Array.from({ length: 10 }, (_, i) =>
    hasher.hash(`parallel password number ${i}`).then(
      (hash) => {
        order.push('ok');
        return hash;
      },
      (error: unknown) => {
        order.push('busy');
        throw error;
      },
    ),
  );
  assert.deepEqual(hasher.depth, { running: 1, queued: 2 });
  const results = await Promise.allSettled(attempts);
  const ok = results.filter((r) => r.status === 'fulfilled');
  const busy = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.equal(ok.length, 3, 'one running and two queued succeed');
  assert.equal(busy.length, 7);
  for (const r of busy) assert.ok(r.reason instanceof HasherBusyError);
  assert.deepEqual(order.slice(0, 7), Array(7).fill('busy'), 'refusals come before any hash finishes');
  assert.deepEqual(hasher.depth, { running: 0, queued: 0 }, 'every slot is released');
  // The queue works again once drained.
  assert.match(await hasher.hash('after the burst'), /^\$argon2id\$/);
});

test('needsRehash when the configured cost is raised', async () => {
  const hasher = new PasswordHasher(OPTIONS);
  const hash = await hasher.hash('lantern moss quiet harbor');
  assert.equal(hasher.needsRehash(hash), false);
  assert.equal(new PasswordHasher({ ...OPTIONS, timeCost: 3 }).needsRehash(hash), true);
  assert.equal(new PasswordHasher({ ...OPTIONS, memoryCost: 65_536 }).needsRehash(hash), true);
  assert.equal(hasher.needsRehash('garbage'), true);
});

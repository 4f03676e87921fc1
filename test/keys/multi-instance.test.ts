// Several instances on one PostgreSQL: one rotates, all follow, none signs with an
// unpublished key; and master key rotation (rewrap) of the stored private keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeProtectedHeader } from 'jose';
import { build, registerAndLogin, userWithRoles, TEST_MASTER_KEY } from '../helpers/build.js';
import { rewrapSecrets } from '../../src/keys/rewrap.js';
import { SecretBox } from '../../src/crypto/secret-box.js';

const onPostgres = Boolean(process.env.TEST_DATABASE_URL);

const jwksKids = async (app: Awaited<ReturnType<typeof build>>['app']) =>
  new Set(
    (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' }))
      .json()
      .keys.map((k: { kid: string }) => k.kid) as string[],
  );

test(
  'two instances: rotation on one is picked up by the other, and exactly one promotes',
  { skip: !onPostgres && 'needs TEST_DATABASE_URL' },
  async (t) => {
    const env = { JWKS_MAX_AGE: '1', KEY_PUBLISH_AHEAD: '1', KEY_SYNC_INTERVAL: '1' };
    const a = await build(t, env);
    const b = await build(t, env);
    const admin = await userWithRoles(a, ['admin']);

    // Both instances issue tokens continuously while a rotation happens; every token's
    // kid must be in both instances' JWKS at the moment it is issued.
    let stop = false;
    let issued = 0;
    const seenKids = new Set<string>();
    const user = await registerAndLogin(a.app);
    const issue = async (instance: typeof a) => {
      while (!stop) {
        const res = await instance.app.inject({
          method: 'POST',
          url: '/auth/login',
          payload: { email: user.email, password: user.password },
        });
        assert.equal(res.statusCode, 200);
        const kid = decodeProtectedHeader(res.json().access_token).kid as string;
        const [ja, jb] = await Promise.all([jwksKids(a.app), jwksKids(b.app)]);
        assert.ok(ja.has(kid) && jb.has(kid), `kid ${kid} published by both instances when used`);
        seenKids.add(kid);
        issued++;
      }
    };
    const loops = [issue(a), issue(b)];
    const rotated = await a.app.inject({ method: 'POST', url: '/admin/keys/rotate', headers: admin.auth, payload: {} });
    const nextKid = rotated.json().kid as string;
    // Instance b learns of the next key on its own sync, well before it may sign.
    await b.services.syncKeys();
    assert.ok((await jwksKids(b.app)).has(nextKid));
    // Publish-ahead plus one sync interval.
    await sleep(2300);
    // Both tick at once: the advisory lock lets exactly one promote.
    await Promise.all([a.services.syncKeys(), b.services.syncKeys()]);
    await Promise.all([a.services.syncKeys(), b.services.syncKeys()]);
    await sleep(300);
    stop = true;
    await Promise.all(loops);

    assert.ok(seenKids.has(nextKid), 'the new key signed after promotion');
    assert.ok(issued > 4);
    const activations = await a.services.db.query(
      `SELECT 1 FROM security_events WHERE type = 'key_activated' AND detail->>'kid' = $1`,
      [nextKid],
    );
    assert.equal(activations.length, 1, 'exactly one instance promoted');
    const [current] = await a.services.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM signing_keys WHERE purpose = 'access' AND state = 'current'`,
    );
    assert.equal(current?.n, 1);
    t.diagnostic(`tokens issued during rotation: ${issued}`);
  },
);

test('master key rotation re-seals every private key, and can be repeated after an interruption', async (t) => {
  const first = await build(t);
  const user = await registerAndLogin(first.app);
  await first.app.close();
  await first.services.close();

  const newKey = randomBytes(32);
  const rotating = await build(t, { MASTER_KEY: newKey.toString('base64'), MASTER_KEY_PREVIOUS: TEST_MASTER_KEY });
  const newId = rotating.services.box.keyId;
  const oldId = SecretBox.fromKey(Buffer.from(TEST_MASTER_KEY, 'base64')).keyId;
  const before = await rotating.services.db.query<{ private_key_enc: string }>(
    'SELECT private_key_enc FROM signing_keys',
  );
  assert.ok(before.some((r) => SecretBox.sealedWith(r.private_key_enc) === oldId));

  const result = await rewrapSecrets(rotating.services.db, rotating.services.box);
  assert.ok(result.rewrapped >= 2);
  const again = await rewrapSecrets(rotating.services.db, rotating.services.box);
  assert.equal(again.rewrapped, 0, 'a repeated run has nothing left to do');
  const after = await rotating.services.db.query<{ private_key_enc: string }>(
    'SELECT private_key_enc FROM signing_keys',
  );
  assert.ok(after.every((r) => SecretBox.sealedWith(r.private_key_enc) === newId));
  const [auditKey] = await rotating.services.db.query<{ private_key_enc: string }>(
    'SELECT private_key_enc FROM audit_keys',
  );
  assert.equal(SecretBox.sealedWith(auditKey!.private_key_enc), newId, 'the audit key is re-sealed too');
  await rotating.app.close();
  await rotating.services.close();

  // The new master key alone now opens everything; tokens keep working.
  const done = await build(t, { MASTER_KEY: newKey.toString('base64') });
  const me = await done.app.inject({
    method: 'GET',
    url: '/userinfo',
    headers: { authorization: `Bearer ${user.tokens.access_token}` },
  });
  assert.equal(me.statusCode, 200);
  // And the old key alone no longer can.
  await done.app.close();
  await done.services.close();
  await assert.rejects(build(t, { MASTER_KEY: TEST_MASTER_KEY }));

  // Rotating back leaves this file's database as the other tests expect it.
  const back = await build(t, { MASTER_KEY: TEST_MASTER_KEY, MASTER_KEY_PREVIOUS: newKey.toString('base64') });
  assert.ok((await rewrapSecrets(back.services.db, back.services.box)).rewrapped >= 2);
});

test(
  'a database dump shows no private key material',
  { skip: !onPostgres && 'needs TEST_DATABASE_URL and pg_dump' },
  async (t) => {
    const { services, config } = await build(t);
    if (config.database.kind !== 'postgres') return;
    let dump: string;
    try {
      dump = execFileSync('pg_dump', ['--data-only', '--table=signing_keys', config.database.url], {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      });
    } catch {
      t.skip('pg_dump not available');
      return;
    }
    const [row] = await services.db.query<{ n: number }>('SELECT count(*)::int AS n FROM signing_keys');
    assert.ok((row?.n ?? 0) >= 2);
    assert.ok(!/"d"\s*:/.test(dump), 'no private JWK member d in the dump');
    assert.ok(!/"(p|q|dp|dq|qi)"\s*:/.test(dump));
    assert.ok(dump.includes('v1.'), 'sealed values are there');
    // The audit key: its private half (PKCS#8 or the raw seed) appears nowhere in a dump.
    const audit = execFileSync('pg_dump', ['--data-only', '--table=audit_keys', config.database.url], {
      encoding: 'utf8',
    });
    const der = services.auditKey.privateKey.export({ format: 'der', type: 'pkcs8' });
    assert.ok(audit.includes('v1.'), 'the audit key is stored sealed');
    for (const form of [
      der.toString('base64'),
      der.subarray(-32).toString('base64'),
      der.subarray(-32).toString('hex'),
    ]) {
      assert.ok(!audit.includes(form));
    }
  },
);

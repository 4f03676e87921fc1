// The audit log as a Merkle tree log on a real database: appends are plain inserts that
// wait for nothing; the sealer makes every committed event a leaf exactly once, late
// commits included; two instances seal one log without forking; the tables refuse
// changes (no session setting opens them); checkpoints are signed by the audit key,
// which is not a signing key and not in the JWKS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build } from '../helpers/build.js';
import { recordSecurityEvent, sanitizeDetail } from '../../src/audit/audit-log.js';
import { runWithAuditContext } from '../../src/audit/request-context.js';
import { verifyAuditLog } from '../../src/audit/verify-log.js';
import { newestCheckpoint } from '../../src/audit/audit-reads.js';
import { readCheckpointDocument } from '../../src/audit/checkpoint-document.js';
import { verifyCheckpoint } from '../../src/domain/audit/checkpoint.js';
import type { Queryable } from '../../src/db/database.js';

const onPostgres = Boolean(process.env.TEST_DATABASE_URL);
const needsPostgres =
  !onPostgres && 'concurrent transactions need PostgreSQL (TEST_DATABASE_URL): PGlite is one session';

/** Leaf indexes as stored, in leaf order, with their event ids. */
const leaves = async (db: Queryable) =>
  (
    await db.query<{ id: string; leaf_index: string | null }>(
      'SELECT id, leaf_index FROM security_events ORDER BY leaf_index NULLS LAST, id',
    )
  ).map((r) => ({ id: Number(r.id), leaf: r.leaf_index === null ? null : Number(r.leaf_index) }));

/** Leaves are 0..n-1 with no gap and no duplicate, and every event has one. */
function assertContiguous(rows: { id: number; leaf: number | null }[]) {
  assert.ok(
    rows.every((r) => r.leaf !== null),
    'every event sealed',
  );
  assert.deepEqual(
    rows.map((r) => r.leaf),
    rows.map((_, i) => i),
  );
  assert.equal(new Set(rows.map((r) => r.id)).size, rows.length);
}

/** Runs SQL and reports the PostgreSQL refusal, if any. */
async function refusal(db: Queryable, sql: string, params: unknown[] = []): Promise<string | undefined> {
  try {
    await db.query(sql, params);
    return undefined;
  } catch (error) {
    return String((error as Error).message);
  }
}

test('the audit log as a tree', async (t) => {
  // The timer would seal on its own; the tests seal when they mean to.
  const { app, services } = await build(t, { KEY_SYNC_INTERVAL: '300', AUDIT_SEAL_INTERVAL_MS: '60000' });
  const { db } = services;

  await t.test('an untouched log verifies; every event is one leaf; the checkpoint is signed', async () => {
    await recordSecurityEvent(db, { type: 'login_failure', ip: '192.0.2.1', detail: { reason: 'wrong_password' } });
    const before = await leaves(db);
    assert.ok(
      before.some((r) => r.leaf === null),
      'recording does not seal',
    );
    const sealed = await services.auditSealer.seal();
    assert.ok(sealed.sealed >= 1);
    const after = await leaves(db);
    assertContiguous(after);
    const report = await verifyAuditLog(db);
    assert.equal(report.ok, true, JSON.stringify(report.problem));
    assert.equal(report.treeSize, after.length);
    assert.equal(report.unsealed, 0);

    const doc = await newestCheckpoint(db);
    assert.ok(doc);
    assert.equal(doc.tree_size, after.length);
    assert.equal(doc.origin, 'localhost:3000/audit');
    const { checkpoint } = readCheckpointDocument(JSON.stringify(doc));
    assert.equal(checkpoint.size, after.length);
    verifyCheckpoint(doc.checkpoint, services.auditKey); // throws if not signed by the audit key
    // A leaf hash per event, 32 bytes hex.
    const [row] = await db.query<{ hash: string }>('SELECT hash FROM security_events WHERE leaf_index = 0');
    assert.match(row!.hash, /^[0-9a-f]{64}$/);
  });

  await t.test('the audit key is its own: not a signing key, not in the JWKS, sealed at rest', async () => {
    const raw = services.auditKey.publicKey.export({ format: 'jwk' }).x;
    const jwks = (await app.inject({ url: '/.well-known/jwks.json' })).json<{ keys: { x?: string; kid: string }[] }>();
    assert.ok(jwks.keys.length > 0);
    assert.ok(!jwks.keys.some((k) => k.x === raw));
    const [stored] = await db.query<{ public_key: string; private_key_enc: string }>(
      'SELECT public_key, private_key_enc FROM audit_keys',
    );
    assert.equal(Buffer.from(stored!.public_key, 'base64').toString('base64url'), raw);
    const der = services.auditKey.privateKey.export({ format: 'der', type: 'pkcs8' });
    assert.ok(!stored!.private_key_enc.includes(der.toString('base64')), 'the private key is not stored in clear');
    assert.ok(!stored!.private_key_enc.includes(der.subarray(-32).toString('base64')));
    const signing = await db.query<{ kid: string }>('SELECT kid FROM signing_keys');
    assert.ok(!signing.some((k) => k.kid.includes(raw!)));
  });

  await t.test(
    'each event carries time, type, outcome, actor, target, IP, user agent, request id and detail',
    async () => {
      await runWithAuditContext(
        { requestId: 'req-1', ip: '198.51.100.7', userAgent: 'probe/1.0', actor: () => 'admin-id' },
        () => recordSecurityEvent(db, { type: 'key_revoked', detail: { kid: 'kid-1', purpose: 'access' } }),
      );
      const [row] = await db.query<Record<string, unknown>>(
        `SELECT * FROM security_events WHERE type = 'key_revoked' AND request_id = 'req-1'`,
      );
      assert.ok(row);
      assert.equal(row.outcome, 'success');
      assert.equal(row.actor, 'admin-id');
      assert.equal(row.target, 'kid-1');
      assert.equal(row.ip, '198.51.100.7');
      assert.equal(row.user_agent, 'probe/1.0');
      assert.equal(row.leaf_index, null, 'not sealed yet');
      assert.ok(
        (await db.query(`SELECT 1 FROM security_events WHERE type = 'login_failure' AND outcome = 'failure'`)).length >
          0,
        'failure types default to outcome failure',
      );
    },
  );

  await t.test('the detail never keeps a secret, at any depth, and stays small', () => {
    const clean = sanitizeDetail({
      reason: 'x',
      password: 'hunter2',
      nested: { client_secret: 's3', deeper: [{ refresh_token: 'r' }] },
      note: 'Bearer abcdefghijkl',
    });
    assert.equal(JSON.stringify(clean).includes('hunter2'), false);
    assert.equal(JSON.stringify(clean).includes('s3"'), false);
    assert.equal(JSON.stringify(clean).includes('"r"'), false);
    assert.equal(JSON.stringify(clean).includes('abcdefghijkl'), false);
    assert.equal(sanitizeDetail({ big: 'x'.repeat(10_000) }).truncated, true);
  });

  await t.test('concurrent writers, inside and outside transactions, while sealing, make one tree', async () => {
    const writes = Array.from({ length: 60 }, (_, i) =>
      i % 2
        ? recordSecurityEvent(db, { type: 'login_failure', detail: { i } })
        : db.transaction((tx) => recordSecurityEvent(tx, { type: 'login_failure', detail: { i } })),
    );
    const seals = Array.from({ length: 6 }, () => services.auditSealer.seal());
    await Promise.all([...writes, ...seals]);
    await services.auditSealer.seal();
    assertContiguous(await leaves(db));
    const report = await verifyAuditLog(db);
    assert.equal(report.ok, true, JSON.stringify(report.problem));
  });

  await t.test('events recorded at the same moment share one statement; a bad one fails alone', async () => {
    const marker = `group-${Date.now()}`;
    const calls = Array.from({ length: 200 }, (_, i) =>
      recordSecurityEvent(db, { type: 'login_failure', detail: { marker, i } }),
    );
    // An event no row can hold (user_id is a uuid column), among good ones.
    const bad = assert.rejects(
      recordSecurityEvent(db, { type: 'login_failure', userId: 'not-a-uuid', detail: { marker, bad: true } }),
      /22P02/,
    );
    const more = Array.from({ length: 20 }, (_, i) =>
      recordSecurityEvent(db, { type: 'login_failure', detail: { marker, late: i } }),
    );
    await Promise.all([...calls, ...more, bad]);
    const rows = await db.query<{ i: string | null; late: string | null; tx: string }>(
      `SELECT detail->>'i' AS i, detail->>'late' AS late, xmin::text AS tx FROM security_events WHERE detail->>'marker' = $1`,
      [marker],
    );
    assert.equal(rows.length, 220, 'every good event once, the bad one not');
    assert.deepEqual(
      rows
        .filter((r) => r.i !== null)
        .map((r) => Number(r.i))
        .sort((a, b) => a - b),
      Array.from({ length: 200 }, (_, i) => i),
    );
    const transactions = new Set(rows.map((r) => r.tx)).size;
    assert.ok(transactions <= 30, `220 events in ${transactions} commits`);
  });

  await t.test('a rolled-back transaction leaves no event', async () => {
    const before = (await leaves(db)).length;
    await assert.rejects(
      db.transaction(async (tx) => {
        await recordSecurityEvent(tx, { type: 'login_failure', detail: { rolled: 'back' } });
        throw new Error('roll back');
      }),
    );
    await services.auditSealer.seal();
    assert.equal((await leaves(db)).length, before);
    assert.equal((await verifyAuditLog(db)).ok, true);
  });

  await t.test('changes are refused, sealed or not, and no session setting opens them', async () => {
    await recordSecurityEvent(db, { type: 'login_failure', detail: { unsealed: true } });
    const [sealed] = await db.query<{ id: string }>('SELECT id FROM security_events WHERE leaf_index = 1');
    const [unsealed] = await db.query<{ id: string }>(
      'SELECT id FROM security_events WHERE leaf_index IS NULL LIMIT 1',
    );
    const refusals = [
      await refusal(db, `UPDATE security_events SET ip = '203.0.113.1' WHERE id = $1`, [sealed!.id]),
      await refusal(db, `UPDATE security_events SET type = 'login_success' WHERE id = $1`, [unsealed!.id]),
      await refusal(db, 'UPDATE security_events SET leaf_index = 999999, hash = $2 WHERE id = $1', [
        sealed!.id,
        'a'.repeat(64),
      ]),
      await refusal(db, 'DELETE FROM security_events WHERE id = $1', [sealed!.id]),
      await refusal(db, 'DELETE FROM security_events WHERE id = $1', [unsealed!.id]),
      await refusal(db, 'TRUNCATE security_events'),
      await refusal(db, 'UPDATE audit_tree SET pruned_size = 5'),
      await refusal(db, `UPDATE audit_tree SET prune_lock = 'x'`),
      await refusal(db, 'DELETE FROM audit_tree'),
      await refusal(db, 'DELETE FROM audit_keys'),
      await refusal(db, `UPDATE audit_keys SET public_key = 'AAAA'`),
      await refusal(db, 'DELETE FROM audit_checkpoints'),
      await refusal(
        db,
        `INSERT INTO audit_prunes (tree_size, root_hash, frontier, deleted, retention_days, note, unlock, next_lock)
         VALUES (5, 'x', '{}', 5, 1, 'x', $1, 'y')`,
        ['00'.repeat(32)],
      ),
    ];
    for (const [i, message] of refusals.entries()) assert.ok(message, `statement ${i} was refused`);
    // The old chain's opening is gone: the setting means nothing to the guards.
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.query(`SELECT set_config('tessera.audit_prune', 'on', true)`);
        await tx.query('DELETE FROM security_events WHERE id = $1', [sealed!.id]);
      }),
      /append-only/,
    );
    const [still] = await db.query('SELECT 1 FROM security_events WHERE id = $1', [sealed!.id]);
    assert.ok(still);
    await services.auditSealer.seal();
    assert.equal((await verifyAuditLog(db)).ok, true);
  });

  await t.test(
    'an event whose transaction commits after later events were sealed is sealed later, never skipped',
    { skip: needsPostgres },
    async () => {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let lateId = 0;
      let inserted!: () => void;
      const insertedYet = new Promise<void>((resolve) => (inserted = resolve));
      const late = db.transaction(async (tx) => {
        await recordSecurityEvent(tx, { type: 'login_failure', detail: { late: true } });
        const [row] = await tx.query<{ id: string }>('SELECT max(id) AS id FROM security_events');
        lateId = Number(row!.id);
        inserted();
        await held; // commit only after later ids were sealed
      });
      await insertedYet;
      for (let i = 0; i < 5; i++) await recordSecurityEvent(db, { type: 'login_failure', detail: { after: i } });
      await services.auditSealer.seal();
      const laterIds = (
        await db.query<{ id: string }>(
          `SELECT id FROM security_events WHERE detail ? 'after' AND leaf_index IS NOT NULL ORDER BY id`,
        )
      ).map((r) => Number(r.id));
      assert.equal(laterIds.length, 5, 'the later events are sealed');
      assert.ok(
        laterIds.every((id) => id > lateId),
        'they have higher ids than the one still in flight',
      );
      release();
      await late;
      await services.auditSealer.seal();
      const [row] = await db.query<{ leaf_index: string }>('SELECT leaf_index FROM security_events WHERE id = $1', [
        lateId,
      ]);
      assert.ok(row!.leaf_index !== null, 'the late event is sealed');
      const [laterLeaf] = await db.query<{ m: string }>(
        `SELECT max(leaf_index) AS m FROM security_events WHERE detail ? 'after'`,
      );
      assert.ok(Number(row!.leaf_index) > Number(laterLeaf!.m), 'after the events that committed first');
      assertContiguous(await leaves(db));
      assert.equal((await verifyAuditLog(db)).ok, true);
      // The alert rules read leaves in order, so they reach it too.
      await services.alerts.check();
      const [cursor] = await db.query<{ last_leaf_index: string }>('SELECT last_leaf_index FROM alert_cursor');
      assert.ok(Number(cursor!.last_leaf_index) >= Number(row!.leaf_index));
    },
  );
});

test('two instances seal one log without forking', { skip: needsPostgres }, async (t) => {
  const one = await build(t, { KEY_SYNC_INTERVAL: '300', AUDIT_SEAL_INTERVAL_MS: '50' });
  const two = await build(t, { KEY_SYNC_INTERVAL: '300', AUDIT_SEAL_INTERVAL_MS: '50' });
  assert.equal(
    one.services.auditKey.verifierKey,
    two.services.auditKey.verifierKey,
    'one audit key, whichever instance made it',
  );
  const writers = Array.from({ length: 200 }, (_, i) =>
    recordSecurityEvent(i % 2 ? one.services.db : two.services.db, { type: 'login_failure', detail: { i } }),
  );
  const sealers = Array.from({ length: 10 }, (_, i) => (i % 2 ? one : two).services.auditSealer.seal());
  await Promise.all([...writers, ...sealers]);
  await one.services.auditSealer.seal();
  await two.services.auditSealer.seal();
  const { db } = one.services;
  assertContiguous(await leaves(db));
  const report = await verifyAuditLog(db);
  assert.equal(report.ok, true, JSON.stringify(report.problem));
  // Every kept checkpoint lies on the one tree (verify checks each root; here, that they grow).
  const sizes = (
    await db.query<{ tree_size: string }>('SELECT tree_size FROM audit_checkpoints ORDER BY tree_size')
  ).map((r) => Number(r.tree_size));
  assert.deepEqual(
    sizes,
    [...sizes].sort((a, b) => a - b),
  );
});

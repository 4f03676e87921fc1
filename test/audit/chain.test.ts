// The audit log's hash chain on a real database: appends from many writers at once and
// inside transactions form one chain; the table refuses changes; tampering is found and
// named; pruning keeps what is left checkable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build } from '../helpers/build.js';
import { verifyAuditChain, GENESIS_HASH } from '../../src/db/repositories/security-events.js';
import { recordSecurityEvent, pruneAuditLog, sanitizeDetail } from '../../src/audit/audit-log.js';
import { runWithAuditContext } from '../../src/audit/request-context.js';
import { tamper } from './helpers.js';

const ids = async (db: { query<T>(sql: string): Promise<T[]> }) =>
  (await db.query<{ id: number }>('SELECT id FROM security_events ORDER BY id')).map((r) => Number(r.id));

test('the audit log', async (t) => {
  const { services } = await build(t, { KEY_SYNC_INTERVAL: '300' });
  const { db } = services;

  await t.test('an untouched log verifies, from the genesis value to the head', async () => {
    await recordSecurityEvent(db, { type: 'login_failure', ip: '192.0.2.1', detail: { reason: 'wrong_password' } });
    const report = await verifyAuditChain(db);
    assert.equal(report.ok, true, JSON.stringify(report.broken));
    assert.ok(report.events >= 5, 'key creation at start and the login failure');
    const [first] = await db.query<{ prev_hash: string }>('SELECT prev_hash FROM security_events ORDER BY id LIMIT 1');
    assert.equal(first!.prev_hash, GENESIS_HASH);
    const [head] = await db.query<{ id: number; hash: string }>(
      'SELECT id, hash FROM security_events ORDER BY id DESC LIMIT 1',
    );
    assert.deepEqual(report.head, { id: Number(head!.id), hash: head!.hash });
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
      assert.ok(row.created_at instanceof Date || typeof row.created_at === 'string');
      assert.match(String(row.hash), /^[0-9a-f]{64}$/);
      assert.equal(
        (await db.query(`SELECT 1 FROM security_events WHERE type = 'login_failure' AND outcome = 'failure'`)).length >
          0,
        true,
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

  await t.test('concurrent writers, inside and outside transactions, keep one chain', async () => {
    const before = (await ids(db)).length;
    const started = Date.now();
    await Promise.all([
      ...Array.from({ length: 150 }, (_, i) =>
        recordSecurityEvent(db, { type: 'login_failure', ip: `203.0.113.${i % 250}`, detail: { i } }),
      ),
      ...Array.from({ length: 10 }, (_, i) =>
        db.transaction(async (tx) => {
          await recordSecurityEvent(tx, { type: 'roles_changed', detail: { i, step: 1 } });
          await recordSecurityEvent(tx, { type: 'sessions_ended', detail: { i, step: 2 } });
        }),
      ),
    ]);
    t.diagnostic(`170 concurrent appends in ${Date.now() - started} ms (${services.config.database.kind})`);
    const all = await ids(db);
    assert.equal(all.length, before + 170);
    // Ids are assigned under the append lock: consecutive, in chain order.
    for (let i = 1; i < all.length; i++) assert.equal(all[i], all[i - 1]! + 1, `ids consecutive at ${all[i]}`);
    const report = await verifyAuditChain(db);
    assert.equal(report.ok, true, JSON.stringify(report.broken));
    // The two events of one transaction are neighbours: nothing interleaves while it holds the lock.
    const pairs = await db.query<{ id: number; type: string; i: number }>(
      `SELECT id, type, (detail->>'i')::int AS i FROM security_events WHERE type IN ('roles_changed', 'sessions_ended') AND detail ? 'step' ORDER BY id`,
    );
    for (let k = 0; k < pairs.length; k += 2) {
      assert.equal(Number(pairs[k + 1]!.id), Number(pairs[k]!.id) + 1);
      assert.equal(pairs[k + 1]!.i, pairs[k]!.i);
    }
  });

  await t.test('a rolled-back transaction leaves no event and no gap in the chain', async () => {
    await assert.rejects(
      db.transaction(async (tx) => {
        await recordSecurityEvent(tx, { type: 'user_disabled', detail: { doomed: true } });
        throw new Error('roll back');
      }),
      /roll back/,
    );
    await recordSecurityEvent(db, { type: 'user_enabled' });
    assert.equal((await db.query(`SELECT 1 FROM security_events WHERE detail ? 'doomed'`)).length, 0);
    assert.equal((await verifyAuditChain(db)).ok, true);
  });

  await t.test('UPDATE, DELETE and TRUNCATE are refused', async () => {
    const code = (e: { code?: string; driverError?: { code?: string } }) => e.code ?? e.driverError?.code;
    for (const sql of [
      `UPDATE security_events SET type = 'x'`,
      'DELETE FROM security_events',
      'TRUNCATE security_events',
    ]) {
      await assert.rejects(db.query(sql), (e: { code?: string; driverError?: { code?: string } }) => {
        assert.equal(code(e), '42501', sql);
        return true;
      });
    }
    // The pruning switch lets DELETE through, never UPDATE.
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.query(`SELECT set_config('tessera.audit_prune', 'on', true)`);
        await tx.query(`UPDATE security_events SET type = 'x'`);
      }),
      /append-only/,
    );
    await assert.rejects(
      db.query(`INSERT INTO security_events_anchor (through_id, hash) VALUES (1, 'x')`),
      /append-only/,
    );
  });

  await t.test('tampering with one event by SQL is found and that event is named', async () => {
    const all = await ids(db);
    const victim = all[Math.floor(all.length / 2)]!;
    await tamper(db, `UPDATE security_events SET detail = '{"reason":"nothing to see"}'::jsonb WHERE id = $1`, [
      victim,
    ]);
    let report = await verifyAuditChain(db, { batch: 50 });
    assert.equal(report.ok, false);
    assert.equal(report.broken!.id, victim);
    assert.match(report.broken!.reason, /content does not match its hash/);

    // A tamperer who also recomputes that event's hash breaks the next event's link.
    await tamper(db, `UPDATE security_events e SET hash = security_event_hash(e) WHERE id = $1`, [victim]);
    report = await verifyAuditChain(db, { batch: 50 });
    assert.equal(report.broken!.id, victim + 1);
    assert.match(report.broken!.reason, new RegExp(`link to event ${victim} is broken`));

    // Removing an event: the one after it no longer links.
    await tamper(db, 'DELETE FROM security_events WHERE id = $1', [victim]);
    report = await verifyAuditChain(db);
    assert.equal(report.broken!.id, victim + 1);
  });
});

test('pruning keeps the rest checkable and records its anchor', async (t) => {
  const { services } = await build(t, { KEY_SYNC_INTERVAL: '300' });
  const { db } = services;
  for (let i = 0; i < 20; i++) await recordSecurityEvent(db, { type: 'login_failure', detail: { i } });
  const all = await ids(db);
  const oldest = all.slice(0, 12);
  // Age the oldest events (a tamperer's tool, used here as a clock).
  await tamper(db, `UPDATE security_events SET created_at = now() - interval '400 days' WHERE id = ANY($1::bigint[])`, [
    oldest,
  ]);
  // Ageing changed the content: re-seal the chain from scratch, as if it had been written then.
  await db.transaction(async (tx) => {
    await tx.query('ALTER TABLE security_events DISABLE TRIGGER security_events_append_only');
    let prev = GENESIS_HASH;
    for (const id of all) {
      await tx.query('UPDATE security_events SET prev_hash = $2 WHERE id = $1', [id, prev]);
      const [row] = await tx.query<{ hash: string }>(
        'UPDATE security_events e SET hash = security_event_hash(e) WHERE id = $1 RETURNING hash',
        [id],
      );
      prev = row!.hash;
    }
    await tx.query('ALTER TABLE security_events ENABLE TRIGGER security_events_append_only');
  });
  assert.equal((await verifyAuditChain(db)).ok, true);
  const [lastOld] = await db.query<{ hash: string }>('SELECT hash FROM security_events WHERE id = $1', [oldest.at(-1)]);

  const result = await pruneAuditLog(db, 365);
  assert.deepEqual(result, { deleted: 12, throughId: oldest.at(-1) });
  const [anchor] = await db.query<{ through_id: number; hash: string }>(
    'SELECT through_id, hash FROM security_events_anchor',
  );
  assert.equal(Number(anchor!.through_id), oldest.at(-1));
  assert.equal(anchor!.hash, lastOld!.hash);
  const [pruned] = await db.query<{ detail: Record<string, unknown> }>(
    `SELECT detail FROM security_events WHERE type = 'audit_pruned'`,
  );
  assert.equal(pruned!.detail.through_hash, lastOld!.hash);

  const report = await verifyAuditChain(db);
  assert.equal(report.ok, true, JSON.stringify(report.broken));
  assert.equal(report.firstId, oldest.at(-1)! + 1);
  assert.deepEqual(report.anchor, { throughId: oldest.at(-1), hash: lastOld!.hash });
  assert.deepEqual(await pruneAuditLog(db, 365), { deleted: 0, throughId: null }, 'nothing more to prune');

  // Deleting more of the start is found, even though the anchor table is untouched.
  await tamper(db, 'DELETE FROM security_events WHERE id = $1', [oldest.at(-1)! + 1]);
  const broken = await verifyAuditChain(db);
  assert.equal(broken.ok, false);
  assert.equal(broken.broken!.id, oldest.at(-1)! + 2);
  assert.match(broken.broken!.reason, /link to event/);
});

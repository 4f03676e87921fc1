// Retention pruning: what it removes is covered by a prune record signed by the audit
// key; earlier and later checkpoints still verify; the guard lets nothing else go;
// altering or removing the record, or putting an event back, is found; and a prune
// refuses a log that no longer matches its checkpoints. (A file of its own: it needs a
// log whose first leaves are old.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build } from '../helpers/build.js';
import { recordSecurityEvent, pruneAuditLog } from '../../src/audit/audit-log.js';
import { verifyAuditLog } from '../../src/audit/verify-log.js';
import { afterTampering, idAtLeaf, saveCheckpoint } from './helpers.js';

test('pruning keeps the rest checkable under a signed record', async (t) => {
  // Nothing seals but this test: the alert rules seal before each check (every
  // ALERT_CHECK_INTERVAL_MS), which would seal the start's own events before they are aged.
  const { services } = await build(t, {
    KEY_SYNC_INTERVAL: '300',
    AUDIT_SEAL_INTERVAL_MS: '60000',
    ALERT_CHECK_INTERVAL_MS: '60000',
  });
  const { db } = services;
  for (let i = 0; i < 12; i++) await recordSecurityEvent(db, { type: 'login_failure', detail: { old: i } });
  // Age everything recorded so far before it is sealed (a clock, not an attack: the leaves
  // are made from the aged rows).
  await db.transaction(async (tx) => {
    await tx.query('ALTER TABLE security_events DISABLE TRIGGER USER');
    await tx.query(`UPDATE security_events SET created_at = created_at - interval '400 days' WHERE leaf_index IS NULL`);
    await tx.query('ALTER TABLE security_events ENABLE TRIGGER USER');
  });
  const old = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM security_events'))[0]!.n);
  await services.auditSealer.seal();
  const early = await saveCheckpoint(db); // covers only old events
  for (let i = 0; i < 18; i++) await recordSecurityEvent(db, { type: 'login_failure', detail: { young: i } });
  await services.auditSealer.seal();
  const before = await saveCheckpoint(db);

  // Two prunes at once (two instances' housekeeping): one removes the old events, the
  // other finds nothing left, and no record is made twice.
  const results = await Promise.all([
    pruneAuditLog(db, services.auditKey, 365),
    pruneAuditLog(db, services.auditKey, 365),
  ]);
  const result = results.find((r) => r.deleted > 0)!;
  assert.deepEqual(result, { deleted: old, prunedSize: old });
  assert.deepEqual(
    results.find((r) => r !== result),
    { deleted: 0, prunedSize: null },
  );
  const [records] = await db.query<{ n: string }>('SELECT count(*) AS n FROM audit_prunes');
  assert.equal(Number(records!.n), 1, 'one prune record');
  const [left] = await db.query<{ n: string; min: string }>(
    'SELECT count(*) AS n, min(leaf_index) AS min FROM security_events WHERE leaf_index IS NOT NULL',
  );
  assert.equal(Number(left!.min), old);
  const [event] = await db.query<{ detail: Record<string, unknown> }>(
    `SELECT detail FROM security_events WHERE type = 'audit_pruned'`,
  );
  assert.deepEqual(event!.detail, { pruned_size: old, deleted: old, retention_days: 365 });
  await services.auditSealer.seal();

  await t.test('later and earlier checkpoints still verify', async () => {
    const later = await verifyAuditLog(db, { saved: before });
    assert.equal(later.ok, true, JSON.stringify(later.problem));
    assert.equal(later.prunedSize, old);
    assert.equal(later.against!.covered, 'checked');
    const earlier = await verifyAuditLog(db, { saved: early });
    assert.equal(earlier.ok, true, JSON.stringify(earlier.problem));
    assert.equal(earlier.against!.covered, early.checkpoint.size < old ? 'pruned' : 'checked');
    assert.deepEqual(await pruneAuditLog(db, services.auditKey, 365), { deleted: 0, prunedSize: null });
  });

  await t.test('the guard lets nothing else go, even after a prune', async () => {
    await assert.rejects(db.query('DELETE FROM security_events WHERE leaf_index = $1', [old]), /append-only/);
  });

  await t.test('the prune record altered, removed, or an event put back: found', async () => {
    const altered = await afterTampering(db, before, (tx) =>
      tx.query(
        `UPDATE audit_prunes SET frontier = '{"size": 1, "hashes": ["47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="]}'`,
      ),
    );
    assert.equal(altered.ok, false);
    assert.match(altered.problem!.reason, /prune record/);
    const removed = await afterTampering(db, before, async (tx) => {
      await tx.query('DELETE FROM audit_prunes');
      await tx.query('UPDATE audit_tree SET pruned_size = 0');
    });
    assert.equal(removed.ok, false);
    assert.match(removed.problem!.reason, /leaf 0 is missing/);
    const putBack = await afterTampering(db, before, (tx) =>
      tx.query(
        `INSERT INTO security_events (type, outcome, detail, leaf_index, hash) VALUES ('login_failure', 'failure', '{}', 0, $1)`,
        ['0'.repeat(64)],
      ),
    );
    assert.equal(putBack.ok, false);
    assert.match(putBack.problem!.reason, /before the prune point/);
  });

  await t.test(
    'a prune refuses a log that no longer matches its checkpoints (last: it leaves the log broken)',
    async () => {
      // Tamper with a still-unpruned event for good, and age everything so a prune would remove it.
      const victim = await idAtLeaf(db, old + 1);
      await db.transaction(async (tx) => {
        await tx.query('ALTER TABLE security_events DISABLE TRIGGER USER');
        await tx.query(`UPDATE security_events SET ip = '203.0.113.1' WHERE id = $1`, [victim]);
        await tx.query(`UPDATE security_events SET created_at = created_at - interval '800 days'`);
        await tx.query('ALTER TABLE security_events ENABLE TRIGGER USER');
      });
      const count = async () =>
        Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM security_events'))[0]!.n);
      const events = await count();
      await assert.rejects(
        pruneAuditLog(db, services.auditKey, 365),
        /audit prune refused: event \d+ \(leaf \d+\) was changed/,
      );
      assert.equal(await count(), events, 'nothing deleted');
    },
  );
});

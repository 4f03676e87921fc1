// Retention and AUDIT_EXPORT_URL: while the export is behind, pruning stops at
// exported_size, so no event leaves the database before it reached the receiver. (A file
// of its own: it needs a log whose first leaves are old, as test/audit/prune.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from '../helpers/build.js';
import { pruneAuditLog, recordSecurityEvent } from '../../src/audit/audit-log.js';
import type { Database } from '../../src/db/database.js';

/** Records events aged past the retention (before sealing, so their leaves are of the aged rows), then seals. */
async function recordOld(db: Database, seal: () => Promise<unknown>, n: number, tag: string) {
  for (let i = 0; i < n; i++) await recordSecurityEvent(db, { type: 'login_failure', detail: { [tag]: i } });
  await db.transaction(async (tx) => {
    await tx.query('ALTER TABLE security_events DISABLE TRIGGER USER');
    await tx.query(`UPDATE security_events SET created_at = created_at - interval '400 days' WHERE leaf_index IS NULL`);
    await tx.query('ALTER TABLE security_events ENABLE TRIGGER USER');
  });
  await seal();
}

test('pruning keeps the events the export has not delivered yet', async (t) => {
  let accept = true;
  const server = createServer((req, res) => {
    req.resume().on('end', () => res.writeHead(accept ? 204 : 503).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  // Nothing seals or exports but this test (both run every AUDIT_SEAL_INTERVAL_MS).
  const { app, services } = await build(t, {
    KEY_SYNC_INTERVAL: '300',
    AUDIT_SEAL_INTERVAL_MS: '60000',
    ALERT_CHECK_INTERVAL_MS: '60000',
    AUDIT_EXPORT_URL: `http://127.0.0.1:${port}/events`,
  });
  const { db } = services;
  const seal = () => services.auditSealer.seal();
  await recordOld(db, seal, 6, 'delivered');
  assert.ok((await app.auditExporter.run()) > 0);
  const [{ exported_size: delivered } = { exported_size: '0' }] = await db.query<{ exported_size: string }>(
    'SELECT exported_size FROM audit_tree',
  );
  // More old events, which the receiver now refuses.
  accept = false;
  await recordOld(db, seal, 6, 'refused');
  assert.equal(await app.auditExporter.run(), 0);
  const [tree] = await db.query<{ size: string; exported_size: string }>('SELECT size, exported_size FROM audit_tree');
  assert.equal(tree!.exported_size, delivered, 'the refused batch is not exported');
  assert.ok(Number(tree!.size) > Number(delivered));

  const pruned = await pruneAuditLog(db, services.auditKey, 365, { keepUnexported: true });
  assert.equal(pruned.prunedSize, Number(delivered), 'pruning stopped at exported_size');
  const kept = await db.query<{ n: string }>(`SELECT count(*) AS n FROM security_events WHERE detail ? 'refused'`);
  assert.equal(Number(kept[0]!.n), 6, 'the events not exported are all still there');
  const gone = await db.query<{ n: string }>(`SELECT count(*) AS n FROM security_events WHERE detail ? 'delivered'`);
  assert.equal(Number(gone[0]!.n), 0, 'the exported old ones are pruned');
});

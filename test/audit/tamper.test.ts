// What `tessera audit verify --checkpoint FILE` catches: each tampering an attacker with
// the database owner's rights (guards off) could try, against a checkpoint saved before
// it. Each case runs in a transaction that is rolled back, so every case starts from the
// same untouched log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { build } from '../helpers/build.js';
import { recordSecurityEvent } from '../../src/audit/audit-log.js';
import { eventLeafHash } from '../../src/domain/audit/event-leaf.js';
import { TreeFrontier } from '../../src/domain/audit/merkle-tree.js';
import { formatCheckpoint, signCheckpoint } from '../../src/domain/audit/checkpoint.js';
import { listSealedFrom } from '../../src/db/repositories/audit-tree.js';
import { afterTampering, idAtLeaf, saveCheckpoint } from './helpers.js';

/** An attacker's own Ed25519 key under the log's name. */
function forgerKey(name: string) {
  return { name, privateKey: generateKeyPairSync('ed25519').privateKey };
}

test('audit verify --checkpoint finds every kind of tampering', async (t) => {
  const { services } = await build(t, { KEY_SYNC_INTERVAL: '300', AUDIT_SEAL_INTERVAL_MS: '60000' });
  const { db } = services;
  for (let i = 0; i < 40; i++) await recordSecurityEvent(db, { type: 'login_failure', ip: '192.0.2.9', detail: { i } });
  await services.auditSealer.seal();
  const saved = await saveCheckpoint(db);
  for (let i = 0; i < 5; i++) await recordSecurityEvent(db, { type: 'login_failure', detail: { after: i } });
  await services.auditSealer.seal();
  const size = saved.checkpoint.size;

  await t.test('untouched: verifies against the saved checkpoint', async () => {
    const report = await afterTampering(db, saved, async () => undefined);
    assert.equal(report.ok, true, JSON.stringify(report.problem));
    assert.deepEqual(report.against, {
      treeSize: size,
      rootHash: Buffer.from(saved.checkpoint.rootHash).toString('base64'),
      covered: 'checked',
    });
  });

  await t.test('an event altered: named', async () => {
    const victim = await idAtLeaf(db, 10);
    const report = await afterTampering(db, saved, (tx) =>
      tx.query(`UPDATE security_events SET ip = '203.0.113.66' WHERE id = $1`, [victim]),
    );
    assert.equal(report.ok, false);
    assert.equal(report.problem!.eventId, victim);
    assert.match(report.problem!.reason, /changed after it was sealed/);
  });

  await t.test('an event altered and its stored leaf hash recomputed: the tree no longer matches', async () => {
    const victim = await idAtLeaf(db, 10);
    const report = await afterTampering(db, saved, async (tx) => {
      await tx.query(`UPDATE security_events SET ip = '203.0.113.66' WHERE id = $1`, [victim]);
      const [row] = await listSealedFrom(tx, 10, 1);
      await tx.query('UPDATE security_events SET hash = $2 WHERE id = $1', [
        victim,
        Buffer.from(eventLeafHash(row!)).toString('hex'),
      ]);
    });
    assert.equal(report.ok, false);
    assert.match(
      report.problem!.reason,
      /does not match the (saved|newest signed) checkpoint|does not match the signed/,
    );
  });

  await t.test('the newest events deleted, the tree state rewound to match: the saved checkpoint says so', async () => {
    const report = await afterTampering(db, saved, async (tx) => {
      await tx.query('DELETE FROM security_events WHERE leaf_index >= $1', [size - 3]);
      // Rebuild audit_tree for what is left and sign it with a key of the attacker's own.
      const frontier = new TreeFrontier();
      for (const row of await listSealedFrom(tx, 0, 100_000)) frontier.append(eventLeafHash(row));
      const forger = forgerKey(services.auditKey.name);
      const note = signCheckpoint(
        formatCheckpoint({ origin: forger.name, size: frontier.size, rootHash: frontier.root() }),
        forger,
      );
      await tx.query('DELETE FROM audit_checkpoints');
      await tx.query('UPDATE audit_tree SET size = $1, root_hash = $2, frontier = $3, checkpoint = $4', [
        frontier.size,
        Buffer.from(frontier.root()).toString('base64'),
        JSON.stringify(frontier.toJSON()),
        note,
      ]);
    });
    assert.equal(report.ok, false);
    assert.match(report.problem!.reason, /not signed by the audit key|newest were deleted/);
  });

  await t.test('the newest events deleted, nothing else touched', async () => {
    const report = await afterTampering(db, saved, (tx) =>
      tx.query('DELETE FROM security_events WHERE leaf_index >= $1', [size - 3]),
    );
    assert.equal(report.ok, false);
    assert.match(report.problem!.reason, /newest were deleted/);
  });

  await t.test('the oldest events deleted', async () => {
    const report = await afterTampering(db, saved, (tx) =>
      tx.query('DELETE FROM security_events WHERE leaf_index < 5'),
    );
    assert.equal(report.ok, false);
    assert.equal(report.problem!.leafIndex, 0);
    assert.match(report.problem!.reason, /leaf 0 is missing/);
  });

  await t.test('the oldest events deleted under a forged prune record', async () => {
    const report = await afterTampering(db, saved, async (tx) => {
      const frontier = new TreeFrontier();
      for (const row of await listSealedFrom(tx, 0, 5)) frontier.append(eventLeafHash(row));
      const forger = forgerKey(services.auditKey.name);
      const note = signCheckpoint(
        formatCheckpoint({ origin: forger.name, size: 5, rootHash: frontier.root(), timestamp: new Date() }),
        forger,
      );
      await tx.query(
        `INSERT INTO audit_prunes (tree_size, root_hash, frontier, deleted, retention_days, note, unlock, next_lock)
         VALUES (5, $1, $2::jsonb, 5, 1, $3, '00', '00')`,
        [Buffer.from(frontier.root()).toString('base64'), JSON.stringify(frontier.toJSON()), note],
      );
      await tx.query('UPDATE audit_tree SET pruned_size = 5');
      await tx.query('DELETE FROM security_events WHERE leaf_index < 5');
    });
    assert.equal(report.ok, false);
    assert.match(report.problem!.reason, /prune record at size 5 is not signed by the audit key/);
  });

  await t.test('two events swapped (leaf order changed, each still matching its hash)', async () => {
    const [a, b] = [await idAtLeaf(db, 7), await idAtLeaf(db, 8)];
    const report = await afterTampering(db, saved, async (tx) => {
      await tx.query('UPDATE security_events SET leaf_index = -1 WHERE id = $1', [a]);
      await tx.query('UPDATE security_events SET leaf_index = 7 WHERE id = $1', [b]);
      await tx.query('UPDATE security_events SET leaf_index = 8 WHERE id = $1', [a]);
    });
    assert.equal(report.ok, false);
    assert.match(report.problem!.reason, /changed, reordered or replaced/);
  });

  await t.test(
    'the audit key replaced, everything re-signed with it: the saved checkpoint names the real key',
    async () => {
      const forger = generateKeyPairSync('ed25519');
      const report = await afterTampering(db, saved, (tx) =>
        tx.query('UPDATE audit_keys SET public_key = $1', [
          forger.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64'),
        ]),
      );
      assert.equal(report.ok, false);
      assert.match(report.problem!.reason, /not the one that signed the saved checkpoint/);
    },
  );

  await t.test('a forged checkpoint in the database', async () => {
    const report = await afterTampering(db, undefined, async (tx) => {
      const forger = forgerKey(services.auditKey.name);
      const [tree] = await tx.query<{ size: string; root_hash: string }>('SELECT size, root_hash FROM audit_tree');
      await tx.query('UPDATE audit_tree SET checkpoint = $1', [
        signCheckpoint(
          formatCheckpoint({
            origin: forger.name,
            size: Number(tree!.size),
            rootHash: Buffer.from(tree!.root_hash, 'base64'),
          }),
          forger,
        ),
      ]);
    });
    assert.equal(report.ok, false);
    assert.match(report.problem!.reason, /newest checkpoint is not signed by the audit key/);
  });
});

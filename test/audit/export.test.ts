// AUDIT_EXPORT_URL: sealed events are POSTed in leaf order, in batches, to a receiver the
// test runs on 127.0.0.1, which checks them the way an outside log store would: every
// leaf hash recomputes from the event's columns, and the leaves rebuild the root the
// signed checkpoint (verified with the audit key's verifier key) names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { build } from '../helpers/build.js';
import { recordSecurityEvent } from '../../src/audit/audit-log.js';
import { readCheckpointDocument } from '../../src/audit/checkpoint-document.js';
import type { ExportBatch } from '../../src/audit/export.js';
import { eventLeafHash } from '../../src/domain/audit/event-leaf.js';
import { rootHash } from '../../src/domain/audit/merkle-tree.js';
import { waitFor } from './helpers.js';

const needsPostgres =
  !process.env.TEST_DATABASE_URL && 'two instances need PostgreSQL (TEST_DATABASE_URL): PGlite is one session';

interface Post {
  at: number;
  status: number;
  raw: string;
  batch: ExportBatch;
}

/** A receiver answering each POST with `answer(nth)` after `delayMs`; every POST kept. */
async function startExportReceiver(t: TestContext, answer: (nth: number) => number, delayMs = 0) {
  const posts: Post[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
    req.on('end', () => {
      const status = answer(posts.length + 1);
      posts.push({ at: Date.now(), status, raw, batch: JSON.parse(raw) as ExportBatch });
      setTimeout(() => res.writeHead(status).end(), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/audit-events/secret-path`, posts };
}

/** The leaves of the accepted batches, in the order they arrived. */
const acceptedEvents = (posts: Post[]) => posts.filter((p) => p.status < 300).flatMap((p) => p.batch.events);

const exportedSize = async (db: { query<T>(sql: string): Promise<T[]> }) =>
  Number((await db.query<{ exported_size: string }>('SELECT exported_size FROM audit_tree'))[0]!.exported_size);

test('sealed events reach the export receiver in leaf order, verifiable against the checkpoint', async (t) => {
  const receiver = await startExportReceiver(t, (nth) => (nth <= 2 ? 500 : 204));
  const { app, services } = await build(t, {
    KEY_SYNC_INTERVAL: '300',
    AUDIT_SEAL_INTERVAL_MS: '100',
    AUDIT_EXPORT_URL: receiver.url,
  });
  const { db } = services;
  for (let i = 0; i < 5; i++) await recordSecurityEvent(db, { type: 'login_failure', detail: { exported: i } });
  await services.auditSealer.seal();
  const [tree] = await db.query<{ size: string }>('SELECT size FROM audit_tree');
  const size = Number(tree!.size);
  await waitFor('every sealed event exported', async () => (await exportedSize(db)) >= size, 15_000);

  // Refused twice, the same batch each time, with backoff; nothing counted exported before the 2xx.
  const [first, second, delivered] = receiver.posts;
  assert.deepEqual([first?.status, second?.status, delivered?.status], [500, 500, 204]);
  assert.equal(first!.batch.from_leaf, 0);
  assert.equal(second!.batch.from_leaf, 0, 'the refused batch is sent again');
  assert.equal(delivered!.batch.from_leaf, 0, 'and only then marked exported');
  assert.ok(delivered!.at - second!.at >= 1500, 'the second retry waited longer than the first (backoff)');

  // Every sealed event arrived once, in leaf order, with the columns stored.
  const events = acceptedEvents(receiver.posts);
  assert.deepEqual(
    events.map((e) => e.leaf_index),
    Array.from({ length: events.length }, (_, i) => i),
    'leaves 0, 1, 2, ... each once',
  );
  assert.ok(events.length >= size);
  const stored = await db.query<{ leaf_index: string; hash: string; id: string; detail: unknown }>(
    'SELECT leaf_index, hash, id, detail FROM security_events WHERE leaf_index IS NOT NULL ORDER BY leaf_index',
  );
  assert.deepEqual(
    events.slice(0, stored.length).map((e) => [e.leaf_index, e.leaf_hash, e.id, e.detail]),
    stored.map((r) => [Number(r.leaf_index), r.hash, Number(r.id), r.detail]),
  );
  for (let i = 0; i < 5; i++)
    assert.equal(events.filter((e) => (e.detail as { exported?: number }).exported === i).length, 1);

  // What the receiver can check without the database: each leaf hash from the event's columns,
  // each checkpoint against the key it names (the audit key), and the root from the leaves.
  for (const e of events) {
    const recomputed = eventLeafHash({ ...e, created_at: e.time });
    assert.equal(Buffer.from(recomputed).toString('hex'), e.leaf_hash, `leaf ${e.leaf_index} recomputes`);
  }
  for (const post of receiver.posts.filter((p) => p.status < 300)) {
    const { checkpoint, verifier } = readCheckpointDocument(JSON.stringify(post.batch.checkpoint));
    assert.equal(post.batch.checkpoint.verifier_key, services.auditKey.verifierKey, 'signed by the audit key');
    assert.equal(post.batch.origin, verifier.name);
    const end = post.batch.from_leaf + post.batch.events.length;
    assert.ok(checkpoint.size >= end, 'the checkpoint covers the batch');
    if (checkpoint.size === end) {
      const leaves = events.slice(0, end).map((e) => Buffer.from(e.leaf_hash, 'hex'));
      assert.deepEqual(Buffer.from(rootHash(leaves)), Buffer.from(checkpoint.rootHash), 'the leaves make its root');
    }
  }
  const last = receiver.posts.at(-1)!;
  assert.equal(
    readCheckpointDocument(JSON.stringify(last.batch.checkpoint)).checkpoint.size,
    last.batch.from_leaf + last.batch.events.length,
    'the newest batch ends at its checkpoint (its root was checked above)',
  );
  assert.equal(await exportedSize(db), events.length, 'exported_size is what was delivered');
  assert.equal(await app.auditExporter.run(), 0, 'nothing left to send');
});

test('two instances export each batch once', { skip: needsPostgres }, async (t) => {
  // Slow answers: a claim by one instance must hold while its POST is in flight.
  const receiver = await startExportReceiver(t, () => 204, 300);
  const env = {
    KEY_SYNC_INTERVAL: '300',
    AUDIT_SEAL_INTERVAL_MS: '50',
    AUDIT_EXPORT_URL: receiver.url,
  };
  const one = await build(t, env);
  const two = await build(t, env);
  const { db } = one.services;
  const start = await exportedSize(db);
  // More than one batch (at most 500 events each).
  for (let i = 0; i < 700; i += 50)
    await Promise.all(
      Array.from({ length: 50 }, (_, j) =>
        recordSecurityEvent((i + j) % 2 ? one.services.db : two.services.db, {
          type: 'login_failure',
          detail: { n: i + j },
        }),
      ),
    );
  await one.services.auditSealer.seal();
  // Both instances' timers run too; these passes race them.
  await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? one : two).app.auditExporter.run()));
  await one.services.auditSealer.seal();
  const [tree] = await db.query<{ size: string }>('SELECT size FROM audit_tree');
  const size = Number(tree!.size);
  await waitFor('every sealed event exported', async () => (await exportedSize(db)) >= size, 30_000);

  const leaves = receiver.posts.flatMap((p) => p.batch.events.map((e) => e.leaf_index));
  assert.equal(new Set(leaves).size, leaves.length, 'no leaf sent twice');
  assert.deepEqual(
    leaves.slice(0, size - start),
    Array.from({ length: size - start }, (_, i) => start + i),
    'in leaf order, none missing',
  );
  assert.ok(receiver.posts.length >= 2, 'in several batches');
  assert.ok(
    receiver.posts.every((p) => p.batch.events.length <= 500),
    'at most 500 events a batch',
  );
  const numbers = new Set(receiver.posts.flatMap((p) => p.batch.events.map((e) => (e.detail as { n?: number }).n)));
  assert.ok(
    Array.from({ length: 700 }, (_, n) => n).every((n) => numbers.has(n)),
    'every event recorded arrived',
  );
});

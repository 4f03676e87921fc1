// AUDIT_CHECKPOINT_URL: after sealing, the newest signed checkpoint is POSTed as its JSON
// document to a receiver the test runs on 127.0.0.1; a failed delivery is retried with
// backoff until one succeeds, and what arrives verifies with the key it names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from '../helpers/build.js';
import { recordSecurityEvent } from '../../src/audit/audit-log.js';
import { readCheckpointDocument } from '../../src/audit/checkpoint-document.js';
import { waitFor } from './helpers.js';

test('each new checkpoint is pushed to AUDIT_CHECKPOINT_URL, with retry', async (t) => {
  const received: { at: number; status: number; body: string; type: string | undefined }[] = [];
  let failuresLeft = 2;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const status = failuresLeft-- > 0 ? 503 : 204;
      received.push({ at: Date.now(), status, body, type: req.headers['content-type'] });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;

  const { services } = await build(t, {
    KEY_SYNC_INTERVAL: '300',
    AUDIT_SEAL_INTERVAL_MS: '100',
    AUDIT_CHECKPOINT_URL: `http://127.0.0.1:${port}/checkpoints/secret-path`,
  });
  await recordSecurityEvent(services.db, { type: 'login_failure', detail: { pushed: true } });

  const delivered = await waitFor('a delivered checkpoint', () => received.find((r) => r.status === 204), 15_000);
  const failed = received.filter((r) => r.status === 503);
  assert.equal(failed.length, 2, 'two refused deliveries before it');
  assert.ok(delivered.at - failed[1]!.at >= 1500, 'the second retry waited longer than the first (backoff)');
  assert.equal(delivered.type, 'application/json');
  const { checkpoint, verifier } = readCheckpointDocument(delivered.body);
  assert.equal(verifier.name, 'localhost:3000/audit');
  // The receiver has answered; the sender marks the delivery once the answer reaches it.
  const tree = await waitFor('the delivery marked', async () => {
    const [row] = await services.db.query<{ size: string; pushed_size: string }>(
      'SELECT size, pushed_size FROM audit_tree',
    );
    return Number(row!.pushed_size) === checkpoint.size && row;
  });
  assert.ok(checkpoint.size > 0 && checkpoint.size <= Number(tree.size));

  // A later event: a newer checkpoint goes out too (at most one delivery a second).
  const before = received.length;
  await recordSecurityEvent(services.db, { type: 'login_failure', detail: { later: true } });
  const next = await waitFor('a newer checkpoint', () => received.slice(before).find((r) => r.status === 204), 15_000);
  assert.ok(readCheckpointDocument(next.body).checkpoint.size > checkpoint.size);
});

test('parallel pushes of one checkpoint deliver it once (the claim is in the database)', async (t) => {
  const received: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      received.push(body);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  // The timer stays out of it: this test pushes by hand.
  const { services } = await build(t, {
    KEY_SYNC_INTERVAL: '300',
    AUDIT_SEAL_INTERVAL_MS: '60000',
    ALERT_CHECK_INTERVAL_MS: '60000',
    AUDIT_CHECKPOINT_URL: `http://127.0.0.1:${port}/checkpoints`,
  });
  await recordSecurityEvent(services.db, { type: 'login_failure', detail: { burst: true } });
  await services.auditSealer.seal();
  // This file's database: a push of the test before may have set the next one a second ahead.
  await waitFor('a push to be due', async () => {
    const [row] = await services.db.query<{ due: boolean }>('SELECT next_push_at <= now() AS due FROM audit_tree');
    return row?.due;
  });
  const results = await Promise.all(Array.from({ length: 10 }, () => services.auditSealer.push()));
  assert.equal(results.filter(Boolean).length, 1, 'one push delivered');
  assert.equal(received.length, 1, 'one POST arrived');
  assert.equal(await services.auditSealer.push(), false, 'nothing new to push');
});

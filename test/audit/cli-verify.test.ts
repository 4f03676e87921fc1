// `tessera audit checkpoint` and `tessera audit verify [--checkpoint FILE]` run for real,
// as child processes: the checkpoint printed is the signed JSON document; an untouched
// log verifies against it (exit 0); a changed row, deleted newest events or a saved
// checkpoint that does not verify exit 1 with one line saying what; usage errors exit 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { Database } from '../../src/db/database.js';
import { openCore } from '../../src/core.js';
import { recordSecurityEvent } from '../../src/audit/audit-log.js';
import { loadAuditKey } from '../../src/audit/audit-key.js';
import { AuditSealer } from '../../src/audit/sealer.js';
import { cliEnv, tessera as run, withDb as openDb } from '../helpers/cli.js';
import { tamper } from './helpers.js';

const env = () => cliEnv();
const tessera = (args: string[]) => run(args);
const withDb = async <T>(fn: (db: Database) => Promise<T>): Promise<T> => openDb(await env(), fn);
const silent = { warn: () => undefined, error: () => undefined };

test('tessera audit checkpoint and audit verify', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-checkpoint-'));
  const file = join(dir, 'checkpoint.json');

  await t.test('before any seal there is no checkpoint: exit 1, one line', async () => {
    const core = await openCore(loadConfig(await env()));
    await core.close();
    const result = await tessera(['audit', 'checkpoint']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^tessera: no checkpoint yet/);
  });

  // A log with some history, sealed as a running server would.
  const config = loadConfig(await env());
  const core = await openCore(config);
  try {
    for (let i = 0; i < 5; i++)
      await recordSecurityEvent(core.db, { type: 'login_failure', ip: '192.0.2.1', detail: { i } });
    await core.keys.rotate('access');
    const key = await loadAuditKey(core.db, core.box, config.issuer);
    const sealer = new AuditSealer(
      core.db,
      key,
      { intervalMs: 60_000, batchSize: 1000, checkpointUrl: undefined, pushTimeoutMs: 1000 },
      silent,
    );
    await sealer.seal();
    await sealer.close();
  } finally {
    await core.close();
  }

  await t.test('audit checkpoint prints the signed checkpoint as one JSON object', async () => {
    const result = await tessera(['audit', 'checkpoint']);
    assert.equal(result.code, 0, result.stderr);
    const doc = JSON.parse(result.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(doc).sort(), [
      'checkpoint',
      'origin',
      'root_hash',
      'timestamp',
      'tree_size',
      'verifier_key',
    ]);
    assert.equal(doc.origin, 'localhost:3000/audit');
    assert.ok(Number(doc.tree_size) >= 9);
    assert.match(String(doc.checkpoint), /^localhost:3000\/audit\n\d+\n[A-Za-z0-9+/]{43}=\ntimestamp \S+\n\n\u2014 /);
    assert.match(String(doc.verifier_key), /^localhost:3000\/audit\+[0-9a-f]{8}\+A[Q-Za-f][A-Za-z0-9+/]{42}$/);
    writeFileSync(file, result.stdout);
  });

  await t.test('an untouched log verifies against it: exit 0, a summary on stdout', async () => {
    const result = await tessera(['audit', 'verify', '--checkpoint', file]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    const summary = JSON.parse(result.stdout) as {
      ok: boolean;
      tree_size: number;
      unsealed: number;
      against: { tree_size: number; covered: string };
    };
    assert.equal(summary.ok, true);
    assert.equal(summary.unsealed, 0);
    assert.equal(summary.against.tree_size, summary.tree_size);
    assert.equal(summary.against.covered, 'checked');
    assert.equal((await tessera(['audit', 'verify'])).code, 0, 'and without a file, against its own checkpoints');
  });

  await t.test('a saved checkpoint whose signature does not verify: exit 1', async () => {
    const doc = JSON.parse((await tessera(['audit', 'checkpoint'])).stdout) as { checkpoint: string };
    const forged = doc.checkpoint.replace(/\n\d+\n/, '\n1\n');
    const forgedFile = join(dir, 'forged.json');
    writeFileSync(forgedFile, JSON.stringify({ ...doc, checkpoint: forged }));
    const result = await tessera(['audit', 'verify', '--checkpoint', forgedFile]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^tessera: the saved checkpoint does not verify: /);
    const missing = await tessera(['audit', 'verify', '--checkpoint', join(dir, 'nope.json')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read the checkpoint file/);
  });

  const victim = await withDb(async (db) =>
    Number(
      (
        await db.query<{ id: number }>(
          `SELECT id FROM security_events WHERE type = 'login_failure' ORDER BY id OFFSET 2 LIMIT 1`,
        )
      )[0]!.id,
    ),
  );

  await t.test('one row changed by SQL: exit 1, one line naming that event', async () => {
    await withDb((db) => tamper(db, `UPDATE security_events SET ip = '203.0.113.66' WHERE id = $1`, [victim]));
    const result = await tessera(['audit', 'verify', '--checkpoint', file]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    const lines = result.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, result.stderr);
    assert.match(
      lines[0]!,
      new RegExp(
        `^tessera: audit log broken \\(event ${victim}\\): event ${victim} \\(leaf \\d+\\) was changed after it was sealed$`,
      ),
    );
  });

  await t.test('the newest events deleted: exit 1', async () => {
    await withDb((db) => tamper(db, `UPDATE security_events SET ip = '192.0.2.1' WHERE id = $1`, [victim]));
    assert.equal((await tessera(['audit', 'verify', '--checkpoint', file])).code, 0, 'put right again');
    await withDb((db) =>
      tamper(db, 'DELETE FROM security_events WHERE leaf_index = (SELECT max(leaf_index) FROM security_events)'),
    );
    const result = await tessera(['audit', 'verify', '--checkpoint', file]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /newest were deleted/);
  });

  await t.test('usage errors exit 2', async () => {
    assert.equal((await tessera(['audit'])).code, 2);
    assert.equal((await tessera(['audit', 'verify', '--fix'])).code, 2);
    assert.equal((await tessera(['audit', 'checkpoint', 'now'])).code, 2);
    assert.equal((await tessera(['audit', 'prune', '--days', 'zero'])).code, 2);
  });
});

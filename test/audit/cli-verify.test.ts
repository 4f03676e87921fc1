// `tessera audit verify` run for real, as a child process: an untouched log verifies
// (exit 0); one row changed by SQL makes it exit 1 with one line naming that event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/config.js';
import { Database } from '../../src/db/database.js';
import { openCore } from '../../src/core.js';
import { recordSecurityEvent } from '../../src/audit/audit-log.js';
import { cliEnv, tessera as run, withDb as openDb } from '../helpers/cli.js';
import { tamper } from './helpers.js';

const env = () => cliEnv();
const tessera = (args: string[]) => run(args);
const withDb = async <T>(fn: (db: Database) => Promise<T>): Promise<T> => openDb(await env(), fn);

test('tessera audit verify', async (t) => {
  // A log with some history: first keys, a few failures, a transaction's events.
  const services = await openCore(loadConfig(await env()));
  try {
    for (let i = 0; i < 5; i++)
      await recordSecurityEvent(services.db, { type: 'login_failure', ip: '192.0.2.1', detail: { i } });
    await services.keys.rotate('access');
  } finally {
    await services.close();
  }

  await t.test('an untouched log verifies: exit 0, a summary on stdout', async () => {
    const result = await tessera(['audit', 'verify']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    const summary = JSON.parse(result.stdout) as { ok: boolean; events: number; head: { id: number; hash: string } };
    assert.equal(summary.ok, true);
    assert.ok(summary.events >= 9, `events: ${summary.events}`);
    assert.match(summary.head.hash, /^[0-9a-f]{64}$/);
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
    const result = await tessera(['audit', 'verify']);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    const lines = result.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, result.stderr);
    assert.equal(
      lines[0],
      `tessera: audit log broken at event ${victim}: its content does not match its hash (the event was changed)`,
    );
  });

  await t.test('the hash recomputed too: the next event is named, its link broken', async () => {
    await withDb((db) =>
      tamper(db, `UPDATE security_events e SET hash = security_event_hash(e) WHERE id = $1`, [victim]),
    );
    const result = await tessera(['audit', 'verify']);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      new RegExp(`^tessera: audit log broken at event ${victim + 1}: its link to event ${victim} is broken`),
    );
  });

  await t.test('usage errors exit 2', async () => {
    assert.equal((await tessera(['audit'])).code, 2);
    assert.equal((await tessera(['audit', 'verify', '--fix'])).code, 2);
    assert.equal((await tessera(['audit', 'prune', '--days', 'zero'])).code, 2);
  });
});

// Two database roles: the owner (MIGRATION_DATABASE_URL) migrates and grants; the runtime
// role (DATABASE_URL) serves with data access only. Connected as the runtime role, an
// attacker with the service's credentials cannot switch the audit guards off, empty or
// rewrite the log, or change the schema; the service itself still works, seals and prunes.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pg from 'pg';
import { pruneAuditLog } from '../../src/audit/audit-log.js';
import { Database } from '../../src/db/database.js';
import { build, registerAndLogin, refresh } from '../helpers/build.js';
import { withDatabase } from '../helpers/database.js';

const POSTGRES_URL = process.env.TEST_DATABASE_URL;
const skip = !POSTGRES_URL && 'PostgreSQL only: the embedded engine has one role';

/** A new database owned by a new role, and a second role with nothing; all dropped after the test. */
async function twoRoles(t: TestContext) {
  const suffix = randomBytes(4).toString('hex');
  const owner = `tessera_owner_${suffix}`;
  const runtime = `tessera_rt_${suffix}`;
  // Named like the helper's per-process databases, so a crashed run is cleaned up later.
  const name = `tessera_t_${process.pid}_${suffix}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE ROLE ${owner} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE`);
  await admin.query(`CREATE ROLE ${runtime} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE`);
  await admin.query(`CREATE DATABASE ${name} OWNER ${owner}`);
  t.after(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`DROP ROLE IF EXISTS ${runtime}`);
    await admin.query(`DROP ROLE IF EXISTS ${owner}`);
    await admin.end();
  });
  const as = (role: string) => {
    const url = new URL(withDatabase(POSTGRES_URL!, name));
    url.username = role;
    return url.toString();
  };
  return { ownerUrl: as(owner), runtimeUrl: as(runtime), superUrl: withDatabase(POSTGRES_URL!, name), runtime };
}

/** The SQLSTATE a statement fails with, or 'ok'. */
async function outcome(client: pg.Client, sql: string): Promise<string> {
  try {
    await client.query(sql);
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? 'no code';
  }
}

test(
  'the runtime role cannot disable the audit triggers, truncate, delete, alter events or run DDL',
  { skip },
  async (t) => {
    const roles = await twoRoles(t);
    const { app, services } = await build(t, {
      DATABASE_URL: roles.runtimeUrl,
      MIGRATION_DATABASE_URL: roles.ownerUrl,
      AUDIT_SEAL_INTERVAL_MS: '60000',
      ALERT_CHECK_INTERVAL_MS: '60000',
    });
    const { db } = services;

    // The service works as the runtime role: it logs in, rotates, seals and prunes.
    assert.equal(await db.currentRole(), roles.runtime);
    assert.equal(await db.roleOwnsSchema(), false);
    const login = await registerAndLogin(app);
    assert.equal((await refresh(app, login.tokens.refresh_token)).statusCode, 200);
    const superuser = new pg.Client({ connectionString: roles.superUrl });
    await superuser.connect();
    superuser.on('error', () => undefined); // the database is dropped with force at the end
    t.after(() => superuser.end());
    // Age what is recorded so far (a clock, not an attack), then seal it and prune it.
    await superuser.query('BEGIN');
    await superuser.query('ALTER TABLE security_events DISABLE TRIGGER USER');
    await superuser.query(`UPDATE security_events SET created_at = created_at - interval '400 days'`);
    await superuser.query('ALTER TABLE security_events ENABLE TRIGGER USER');
    await superuser.query('COMMIT');
    await services.auditSealer.seal();
    const unsealed = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM security_events WHERE leaf_index IS NULL',
    );
    assert.equal(unsealed[0]!.n, 0);
    const pruned = await pruneAuditLog(db, services.auditKey, 365);
    assert.ok(pruned.deleted > 0, 'the runtime role prunes through the owner function');

    // What an attacker holding DATABASE_URL gets.
    const attacker = new pg.Client({ connectionString: roles.runtimeUrl });
    await attacker.connect();
    attacker.on('error', () => undefined);
    t.after(() => attacker.end());
    await services.auditSealer.seal();
    const refused = {
      'disable the events guard': 'ALTER TABLE security_events DISABLE TRIGGER security_events_guard',
      'disable every trigger': 'ALTER TABLE security_events DISABLE TRIGGER ALL',
      'disable the tree guard': 'ALTER TABLE audit_tree DISABLE TRIGGER USER',
      'truncate events': 'TRUNCATE security_events',
      'truncate checkpoints': 'TRUNCATE audit_checkpoints',
      'delete events': 'DELETE FROM security_events',
      'delete checkpoints': 'DELETE FROM audit_checkpoints',
      'delete prune records': 'DELETE FROM audit_prunes',
      'rewrite events': `UPDATE security_events SET detail = '{}'::jsonb`,
      'reseal events': 'UPDATE security_events SET hash = NULL, leaf_index = NULL',
      'replace the audit key': `UPDATE audit_keys SET public_key = 'forged'`,
      'alter events': 'ALTER TABLE security_events ADD COLUMN note text',
      'drop the guard function': 'DROP FUNCTION security_events_guard() CASCADE',
      'replace the guard function':
        'CREATE OR REPLACE FUNCTION security_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$',
      'create a table': 'CREATE TABLE evil (x int)',
      'drop a table': 'DROP TABLE users',
      'alter a table': 'ALTER TABLE users ADD COLUMN x int',
      'create a trigger':
        'CREATE TRIGGER evil BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION audit_no_truncate()',
      'grant itself more': `SELECT tessera_grant_runtime('${roles.runtime}')`,
      'prune past the prune point': 'SELECT tessera_prune_events(1000000)',
    };
    const outcomes: Record<string, string> = {};
    for (const [what, sql] of Object.entries(refused)) outcomes[what] = await outcome(attacker, sql);
    assert.deepEqual(
      outcomes,
      Object.fromEntries(Object.keys(refused).map((what) => [what, '42501'])),
      'every statement is refused for want of privilege',
    );
    // A sealed event cannot be sealed again through the owner's function either.
    const [sealed] = (await attacker.query<{ id: string }>('SELECT id FROM security_events ORDER BY id LIMIT 1')).rows;
    const again = await attacker.query<{ n: number }>(
      `SELECT tessera_seal_events(ARRAY[$1::bigint], ARRAY[999999::bigint], ARRAY['00']) AS n`,
      [sealed!.id],
    );
    assert.equal(again.rows[0]!.n, 0);
    // And what it may do is what the service needs: append an event and read the log.
    assert.equal(
      await outcome(
        attacker,
        `INSERT INTO security_events (type, outcome, detail) VALUES ('login_failure', 'failure', '{}')`,
      ),
      'ok',
    );
  },
);

test(
  'in production, a runtime role that owns the schema gets a warning at start and in /readyz',
  { skip },
  async (t) => {
    const roles = await twoRoles(t);
    const production = {
      NODE_ENV: 'production',
      ISSUER: 'https://id.example.test',
      REGISTRATION: 'closed',
      KEY_SYNC_INTERVAL: '300',
    };
    const lines: string[] = [];
    const logger = {
      level: 'warn',
      stream: new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    };
    // The owner serving as runtime too (one role): warned, and /readyz says so while ready.
    const one = await build(t, { ...production, DATABASE_URL: roles.ownerUrl }, { logger });
    const ready = await one.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { status: 'ready', detail: 'database_role_owns_schema' });
    assert.ok(lines.some((line) => line.includes('MIGRATION_DATABASE_URL')));
    await one.services.close();

    // Two roles: no warning, no detail.
    lines.length = 0;
    const two = await build(
      t,
      { ...production, DATABASE_URL: roles.runtimeUrl, MIGRATION_DATABASE_URL: roles.ownerUrl },
      { logger },
    );
    const clean = await two.app.inject({ method: 'GET', url: '/readyz' });
    assert.deepEqual(clean.json(), { status: 'ready' });
    assert.ok(!lines.some((line) => line.includes('MIGRATION_DATABASE_URL')));
    await two.services.close();

    // The superuser the tests use is reported as well.
    const superuser = await Database.connect({ kind: 'postgres', url: roles.superUrl }, { poolSize: 1 });
    t.after(() => superuser.close());
    assert.equal(await superuser.roleOwnsSchema(), true);
  },
);

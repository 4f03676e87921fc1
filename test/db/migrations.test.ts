// Migrations on a fresh database: the schema they build, re-running them, instances
// migrating together, and what the signing_keys table holds at rest.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { JWK } from 'jose';
import { loadConfig, type Config } from '../../src/config/config.js';
import { Database } from '../../src/db/database.js';
import { openCore } from '../../src/core.js';
import { privateKeyAad } from '../../src/keys/keystore.js';
import { migrations } from '../../migrations/index.js';
import { TEST_MASTER_KEY } from '../helpers/build.js';
import { withDatabase } from '../helpers/database.js';

const POSTGRES_URL = process.env.TEST_DATABASE_URL;
const MIGRATION_NAMES = migrations.map((m) => new m().name);
const created: string[] = [];

/** Settings for a database nobody has touched: a new PostgreSQL database, or a new PGlite directory. */
async function freshDatabaseEnv(): Promise<Record<string, string>> {
  if (!POSTGRES_URL) return { DATA_DIR: mkdtempSync(join(tmpdir(), 'tessera-migrations-')) };
  // Named like the helper's per-process databases, so a crashed run is cleaned up later.
  const name = `tessera_t_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  created.push(name);
  return { DATABASE_URL: withDatabase(POSTGRES_URL, name) };
}

after(async () => {
  if (!POSTGRES_URL || created.length === 0) return;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  try {
    for (const name of created) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
});

function configFor(env: Record<string, string>): Config {
  return loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    MASTER_KEY: TEST_MASTER_KEY,
    ISSUER: 'http://localhost:3000',
    ...env,
  });
}

async function appliedMigrations(db: Database): Promise<string[]> {
  const rows = await db.query<{ name: string }>('SELECT name FROM migrations ORDER BY id');
  return rows.map((r) => r.name);
}

test('migrations build the schema on an empty database, and a second run is a no-op', async () => {
  const config = configFor(await freshDatabaseEnv());
  const db = await Database.connect(config.database);
  try {
    assert.deepEqual(await db.migrate(), MIGRATION_NAMES, 'every migration applies, in order');

    const tables = await db.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`,
    );
    const names = new Set(tables.map((t) => t.table_name));
    for (const table of ['users', 'signing_keys', 'sessions', 'security_events', 'migrations']) {
      assert.ok(names.has(table), `table ${table} exists`);
    }

    const [index] = await db.query<{ indexdef: string }>(
      `SELECT indexdef FROM pg_indexes WHERE tablename = 'signing_keys' AND indexname = 'signing_keys_one_current'`,
    );
    assert.ok(index, 'index signing_keys_one_current exists');
    assert.match(
      index.indexdef,
      /^CREATE UNIQUE INDEX signing_keys_one_current ON public\.signing_keys USING btree \(purpose\) WHERE \(state = 'current'::text\)$/,
    );

    // The index at work: one current key per purpose, any number of others.
    const insert = (kid: string, purpose: string, state: string) =>
      db.query(
        `INSERT INTO signing_keys (kid, purpose, alg, state, public_jwk, private_key_enc) VALUES ($1, $2, 'ES256', $3, '{}'::jsonb, 'v1.x.y')`,
        [kid, purpose, state],
      );
    await insert('a1', 'access', 'current');
    await insert('r1', 'refresh', 'current');
    await insert('a0', 'access', 'retired');
    await insert('a00', 'access', 'retired');
    await assert.rejects(
      insert('a2', 'access', 'current'),
      (error: { code?: string; driverError?: { code?: string } }) => {
        assert.equal(error.code ?? error.driverError?.code, '23505', 'unique violation');
        return true;
      },
    );
    await db.query(`DELETE FROM signing_keys`);

    const before = await appliedMigrations(db);
    assert.deepEqual(before, MIGRATION_NAMES);
    assert.deepEqual(await db.migrate(), [], 'nothing is pending the second time');
    assert.deepEqual(await appliedMigrations(db), before, 'the migrations table is unchanged');
  } finally {
    await db.close();
  }
});

test('a restart on a migrated database applies nothing', async () => {
  const config = configFor(await freshDatabaseEnv());
  const first = await Database.connect(config.database);
  try {
    assert.deepEqual(await first.migrate(), MIGRATION_NAMES);
  } finally {
    await first.close();
  }
  const second = await Database.connect(config.database);
  try {
    assert.deepEqual(await second.migrate(), []);
    assert.deepEqual(await appliedMigrations(second), MIGRATION_NAMES);
  } finally {
    await second.close();
  }
});

test('four instances migrating one empty database at once all succeed, each migration once', async (t) => {
  if (!POSTGRES_URL) {
    t.skip('needs PostgreSQL (TEST_DATABASE_URL); the embedded database has a single process');
    return;
  }
  const config = configFor(await freshDatabaseEnv());
  const instances = await Promise.all(
    Array.from({ length: 4 }, () => Database.connect(config.database, { poolSize: 2 })),
  );
  try {
    const results = await Promise.all(instances.map((db) => db.migrate()));
    assert.deepEqual(
      results.flat().sort(),
      [...MIGRATION_NAMES].sort(),
      'each migration applied by exactly one instance',
    );
    assert.deepEqual(
      await appliedMigrations(instances[0]!),
      MIGRATION_NAMES,
      'the migrations table lists each migration once',
    );
    const [{ count }] = (await instances[0]!.query<{ count: string }>(
      `SELECT count(*)::text AS count FROM pg_indexes WHERE indexname = 'signing_keys_one_current'`,
    )) as [{ count: string }];
    assert.equal(count, '1');
  } finally {
    await Promise.all(instances.map((db) => db.close()));
  }
});

// Private JWK members (RFC 7518 6.2.2, 6.3.2; RFC 8037 2).
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

function privateMembersIn(node: unknown, path = '$'): string[] {
  if (Array.isArray(node)) return node.flatMap((item, i) => privateMembersIn(item, `${path}[${i}]`));
  if (!node || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([key, value]) => [
    ...(PRIVATE_MEMBERS.includes(key) ? [`${path}.${key}`] : []),
    ...privateMembersIn(value, `${path}.${key}`),
  ]);
}

for (const alg of ['ES256', 'RS256'] as const) {
  test(`signing_keys holds ${alg} private keys only sealed with the master key`, async () => {
    const config = configFor({ ...(await freshDatabaseEnv()), SIGNING_ALG: alg });
    const services = await openCore(config);
    try {
      const keys = await services.db.query<{
        kid: string;
        purpose: 'access' | 'refresh';
        private_key_enc: string;
        public_jwk: Record<string, unknown>;
      }>('SELECT kid, purpose, private_key_enc, public_jwk FROM signing_keys ORDER BY purpose');
      assert.deepEqual(
        keys.map((k) => k.purpose),
        ['access', 'refresh'],
        'a first key of each purpose',
      );
      for (const key of keys) {
        assert.match(key.private_key_enc, /^v1(\.[A-Za-z0-9_-]+){2,}$/);
        assert.ok(!key.private_key_enc.includes('"d":'));
        assert.deepEqual(privateMembersIn(key.public_jwk), [], 'the public JWK has public members only');
        // The sealed column really is the private key: it opens, under its own kid only.
        const opened = JSON.parse(
          services.box.open(key.private_key_enc, privateKeyAad(key.purpose, key.kid)).toString('utf8'),
        ) as JWK;
        assert.equal(typeof opened.d, 'string');
        assert.throws(() => services.box.open(key.private_key_enc, privateKeyAad(key.purpose, `${key.kid}x`)));
      }

      // What a dump of the table shows: no private member anywhere, not even nested.
      const dump = await services.db.query<{ row: string }>('SELECT row_to_json(k)::text AS row FROM signing_keys k');
      assert.equal(dump.length, keys.length);
      for (const { row } of dump) {
        assert.doesNotMatch(row, /"d"\s*:/);
        const parsed = JSON.parse(row) as Record<string, unknown>;
        assert.deepEqual(privateMembersIn(parsed), []);
        assert.ok(
          typeof parsed.private_key_enc === 'string' && !/[{}"]/.test(parsed.private_key_enc),
          'the sealed key is opaque text',
        );
      }
    } finally {
      await services.close();
    }
  });
}

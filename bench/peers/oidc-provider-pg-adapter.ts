// A PostgreSQL adapter for oidc-provider (the benchmark peer): one table holds every model,
// keyed by (id, type), with the columns the adapter interface looks rows up by. Expired rows
// are never returned; a consumed row carries `consumed` (epoch seconds) as the in-memory
// adapter does, which is what refresh token rotation checks.
import type { Adapter, AdapterPayload } from 'oidc-provider';
import pg from 'pg';

const OIDC_MODELS_DDL = `
CREATE TABLE IF NOT EXISTS oidc_models (
  id text NOT NULL,
  type text NOT NULL,
  payload jsonb NOT NULL,
  grant_id text,
  user_code text,
  uid text,
  expires_at timestamptz,
  consumed_at timestamptz,
  PRIMARY KEY (id, type)
);
CREATE INDEX IF NOT EXISTS oidc_models_grant_id ON oidc_models (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS oidc_models_user_code ON oidc_models (user_code) WHERE user_code IS NOT NULL;
CREATE INDEX IF NOT EXISTS oidc_models_uid ON oidc_models (uid) WHERE uid IS NOT NULL;
`;

// The models oidc-provider links to a grant (revokeByGrantId removes them all at once).
const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

interface Row {
  payload: AdapterPayload;
  consumed: number | null;
}

const SELECT = `SELECT payload, extract(epoch FROM consumed_at)::bigint AS consumed FROM oidc_models`;
const LIVE = `(expires_at IS NULL OR expires_at > now())`;

function toPayload(rows: Row[]): AdapterPayload | undefined {
  const row = rows[0];
  if (!row) return undefined;
  return row.consumed === null ? row.payload : { ...row.payload, consumed: Number(row.consumed) };
}

class PgAdapter implements Adapter {
  constructor(
    private readonly pool: pg.Pool,
    private readonly type: string,
  ) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const grantId = GRANTABLE.has(this.type) ? (payload.grantId ?? null) : null;
    await this.pool.query(
      `INSERT INTO oidc_models (id, type, payload, grant_id, user_code, uid, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7::int IS NULL THEN NULL ELSE now() + make_interval(secs => $7::int) END)
       ON CONFLICT (id, type) DO UPDATE SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id,
         user_code = EXCLUDED.user_code, uid = EXCLUDED.uid, expires_at = EXCLUDED.expires_at`,
      [id, this.type, payload, grantId, payload.userCode ?? null, payload.uid ?? null, expiresIn ?? null],
    );
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const { rows } = await this.pool.query<Row>(`${SELECT} WHERE id = $1 AND type = $2 AND ${LIVE}`, [id, this.type]);
    return toPayload(rows);
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const { rows } = await this.pool.query<Row>(`${SELECT} WHERE user_code = $1 AND type = $2 AND ${LIVE}`, [
      userCode,
      this.type,
    ]);
    return toPayload(rows);
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const { rows } = await this.pool.query<Row>(`${SELECT} WHERE uid = $1 AND type = $2 AND ${LIVE}`, [uid, this.type]);
    return toPayload(rows);
  }

  async consume(id: string): Promise<void> {
    await this.pool.query(`UPDATE oidc_models SET consumed_at = now() WHERE id = $1 AND type = $2`, [id, this.type]);
  }

  async destroy(id: string): Promise<void> {
    await this.pool.query(`DELETE FROM oidc_models WHERE id = $1 AND type = $2`, [id, this.type]);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.pool.query(`DELETE FROM oidc_models WHERE grant_id = $1 AND type = $2`, [grantId, this.type]);
  }
}

export interface PgAdapterStore {
  /** The adapter factory for oidc-provider's `adapter` option. */
  adapter: (name: string) => Adapter;
  pool: pg.Pool;
  database: string;
  /** Closes the pool and drops the database it created. */
  close(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * Creates a fresh database (`bench_peer_<random>`) on the server `adminUrl` points at, the
 * table in it, and a pool of `poolSize` connections (10, like Tessera's default).
 */
export async function createPgAdapterStore(
  adminUrl: string,
  { poolSize = 10, database = `bench_peer_${Math.random().toString(16).slice(2, 10)}` } = {},
): Promise<PgAdapterStore> {
  if (!/^[a-z_][a-z0-9_]*$/.test(database)) throw new Error(`unsafe database name ${database}`);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${database}`);
  } finally {
    await admin.end();
  }
  const pool = new pg.Pool({ connectionString: withDatabase(adminUrl, database), max: poolSize });
  let ending = false;
  // An idle connection that fails (the drop below ends the last ones) must not crash the peer.
  pool.on('error', (error) => {
    if (!ending) console.error('oidc-provider peer: idle PostgreSQL connection failed:', error.message);
  });
  try {
    await pool.query(OIDC_MODELS_DDL);
  } catch (error) {
    await pool.end();
    await dropDatabase(adminUrl, database);
    throw error;
  }
  let closed: Promise<void> | undefined;
  return {
    adapter: (name: string) => new PgAdapter(pool, name),
    pool,
    database,
    close: () =>
      (closed ??= (async () => {
        ending = true;
        await pool.end();
        await dropDatabase(adminUrl, database);
      })()),
  };
}

/** Drops a peer database (DROP ... WITH (FORCE), so open connections do not block it). */
export async function dropDatabase(adminUrl: string, database: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

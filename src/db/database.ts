// One TypeORM data source for PostgreSQL (DATABASE_URL) or embedded PGlite (DATA_DIR),
// wrapped so that callers get plain parameterized queries and explicit transactions.
import { mkdirSync } from 'node:fs';
import { DataSource, MigrationExecutor, QueryFailedError, type EntityManager } from 'typeorm';
import { PGliteDriver } from 'typeorm-pglite';
import { migrations } from '../../migrations/index.js';
import type { Config } from '../config/config.js';
import { Mutex } from '../lib/mutex.js';

/** Something that runs SQL: the database itself, or an open transaction. */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

/**
 * A failed statement, in the form the error log gets it: which statement and its SQLSTATE.
 * TypeORM's error carries the parameters, and PostgreSQL's message and detail quote values
 * (`invalid input syntax for type uuid: "…"`, `Key (email)=(…) already exists`): none of
 * them is kept. Errors that are not a failed statement (a connection that cannot be had)
 * pass through as they are.
 */
export class DatabaseQueryError extends Error {
  /** The statement's first words, on one line. */
  readonly statement: string;
  /** SQLSTATE (or the driver's code for a lost connection), for callers that tell failures apart. */
  readonly code: string | undefined;

  constructor(failure: Pick<QueryFailedError, 'query'> & { readonly driverError: unknown }) {
    const driver = failure.driverError as { code?: unknown; routine?: unknown; message?: unknown } | undefined;
    const code = typeof driver?.code === 'string' ? driver.code : undefined;
    const statement = statementName(failure.query);
    // The text of our own RAISE statements (migrations) names tables and operations, never values.
    const raised =
      driver?.routine === 'exec_stmt_raise' && typeof driver.message === 'string' ? `: ${driver.message}` : '';
    super(`${statement} failed (${code ?? 'no SQLSTATE'})${raised}`);
    this.name = 'DatabaseQueryError';
    this.statement = statement;
    this.code = code;
  }
}

function statementName(sql: string | undefined): string {
  const line = (sql ?? '').replace(/\s+/g, ' ').trim();
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}

/**
 * PostgreSQL cannot be had right now (down, restarting, unreachable, out of connections,
 * pool exhausted, statement timed out): the request may be retried later, so callers see
 * 503 with Retry-After. The message names the cause (SQLSTATE or socket code), never values.
 */
class DatabaseUnavailableError extends Error {
  readonly code: string | undefined;

  constructor(code: string | undefined, cause: string) {
    super(`database unavailable (${code ?? 'no code'}): ${cause}`);
    this.name = 'DatabaseUnavailableError';
    this.code = code;
  }
}

/** Socket codes of a connection that cannot be opened or was lost. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs of a server that is going away or cannot take us: class 08 (connection
 * exception), 57P01-57P03 (admin/crash shutdown, cannot connect now), 53300 (too many
 * connections), 57014 (statement_timeout or cancel).
 */
function unavailableState(code: string): boolean {
  return code.startsWith('08') || ['57P01', '57P02', '57P03', '53300', '57014'].includes(code);
}

// node-postgres and its pool say these without a code.
const LOST_CONNECTION =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable|Connection ended unexpectedly)/;

/** The connection-level failure hidden in a driver error, or null for a statement that failed on its own. */
function unavailability(error: unknown): DatabaseUnavailableError | null {
  if (error instanceof DatabaseUnavailableError) return error;
  const driver = (error instanceof QueryFailedError ? error.driverError : error) as
    { code?: unknown; message?: unknown; errors?: unknown } | undefined;
  if (!driver || typeof driver !== 'object') return null;
  const code = typeof driver.code === 'string' ? driver.code : undefined;
  const message = typeof driver.message === 'string' ? driver.message : '';
  if (code && (NETWORK_CODES.has(code) || unavailableState(code))) {
    return new DatabaseUnavailableError(
      code,
      code.startsWith('E') ? 'connection failed' : 'server refused the statement',
    );
  }
  if (LOST_CONNECTION.test(message)) return new DatabaseUnavailableError(code, message.split('\n')[0]!.slice(0, 120));
  return null;
}

/** Whether an error means PostgreSQL could not be had (the error mapper answers 503). */
export function isDatabaseUnavailable(error: unknown): boolean {
  return error instanceof DatabaseUnavailableError;
}

/**
 * Runs a statement (or a transaction) with a lost or refused connection turned into a
 * DatabaseUnavailableError and any other failed statement into a DatabaseQueryError.
 */
async function statementFailures<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const unavailable = unavailability(error);
    if (unavailable) throw unavailable;
    throw error instanceof QueryFailedError ? new DatabaseQueryError(error) : error;
  }
}

/** Used when the database settings name no timeouts (tests, tools): DATABASE_*_TIMEOUT_MS's defaults. */
const DEFAULT_CONNECT_TIMEOUT_MS = 3000;
const DEFAULT_STATEMENT_TIMEOUT_MS = 15_000;

/** Serializes migrations across instances starting together (any 64-bit constant). */
const MIGRATION_LOCK = 7_246_001_455_018_113n;

export class Database implements Queryable {
  /**
   * PGlite is a single connection: two interleaved transactions would share one
   * session, so every statement and transaction waits its turn here.
   */
  private readonly gate: Mutex | null;

  private constructor(
    readonly dataSource: DataSource,
    readonly kind: Config['database']['kind'],
  ) {
    this.gate = kind === 'pglite' ? new Mutex() : null;
  }

  static async connect(database: Config['database'], options: { poolSize?: number } = {}): Promise<Database> {
    const common = {
      type: 'postgres' as const,
      synchronize: false,
      migrationsRun: false,
      migrations,
      entities: [],
      logging: false,
    };
    let dataSource: DataSource;
    if (database.kind === 'postgres') {
      dataSource = new DataSource({
        ...common,
        url: database.url,
        poolSize: options.poolSize ?? database.poolSize ?? 10,
        extra: {
          application_name: 'tessera',
          // Bounds opening a connection and waiting for a free one in the pool alike.
          connectionTimeoutMillis: database.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
          // The server cancels any statement running longer (57014, answered 503).
          statement_timeout: database.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
          // A peer that vanished without closing the socket is noticed, not waited on forever.
          keepAlive: true,
        },
      });
    } else {
      if (!database.dataDir.startsWith('memory://')) mkdirSync(database.dataDir, { recursive: true, mode: 0o700 });
      dataSource = new DataSource({
        ...common,
        driver: new PGliteDriver({ dataDir: database.dataDir }).driver,
        uuidExtension: 'pgcrypto',
        installExtensions: false,
      });
    }
    await dataSource.initialize();
    return new Database(dataSource, database.kind);
  }

  async query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    const run = () => statementFailures(async () => normalizeRows<T>(await this.dataSource.query(sql, params)));
    return this.gate ? this.gate.run(run) : run();
  }

  /**
   * Runs fn in one transaction; the caller that needs atomicity opens it. What fn throws
   * passes through as it is; BEGIN and COMMIT failures are wrapped like any statement's.
   */
  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const run = () =>
      statementFailures(() =>
        this.dataSource.transaction(async (manager: EntityManager) =>
          fn({
            query: <R>(sql: string, params: unknown[] = []) =>
              statementFailures(async () => normalizeRows<R>(await manager.query(sql, params))),
          }),
        ),
      );
    return this.gate ? this.gate.run(run) : run();
  }

  /** Applies pending migrations under an advisory lock, so instances may start together. */
  async migrate(): Promise<string[]> {
    const apply = async () => {
      const runner = this.dataSource.createQueryRunner();
      await runner.connect();
      try {
        // Waiting for another instance's migrations, and a long migration, may take longer
        // than statement_timeout allows requests; this session lifts it (PostgreSQL only).
        if (!this.gate) await runner.query('SET statement_timeout = 0');
        await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK.toString()]);
        try {
          // On the locked connection itself, so a pool of one cannot deadlock.
          const executor = new MigrationExecutor(this.dataSource, runner);
          executor.transaction = 'each';
          const done = await executor.executePendingMigrations();
          return done.map((m) => m.name);
        } finally {
          await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK.toString()]);
        }
      } finally {
        if (!this.gate) await runner.query('RESET statement_timeout').catch(() => undefined);
        await runner.release();
      }
    };
    return this.gate ? this.gate.run(apply) : apply();
  }

  /** Connections in use and waiting, for metrics (PGlite: one connection, callers queue at the gate). */
  poolStats(): { total: number; idle: number; waiting: number } {
    if (this.gate)
      return { total: 1, idle: this.gate.pending === 0 ? 1 : 0, waiting: Math.max(0, this.gate.pending - 1) };
    const pool = (
      this.dataSource.driver as unknown as {
        master?: { totalCount?: number; idleCount?: number; waitingCount?: number };
      }
    ).master;
    return { total: pool?.totalCount ?? 0, idle: pool?.idleCount ?? 0, waiting: pool?.waitingCount ?? 0 };
  }

  /** The role this connection runs as. */
  async currentRole(): Promise<string> {
    const [row] = await this.query<{ role: string }>('SELECT current_user AS role');
    return row!.role;
  }

  /**
   * Whether this connection's role could undo the audit guards: a superuser, or a member
   * of the role that owns the tables or the database (it could disable triggers, truncate,
   * or create and alter objects). The embedded engine has one role, which always can.
   */
  async roleOwnsSchema(): Promise<boolean> {
    const [row] = await this.query<{ owns: boolean }>(
      `SELECT r.rolsuper
              OR pg_has_role(current_user, c.relowner, 'USAGE')
              OR pg_has_role(current_user, d.datdba, 'USAGE') AS owns
         FROM pg_roles r, pg_class c, pg_database d
        WHERE r.rolname = current_user AND c.oid = 'security_events'::regclass AND d.datname = current_database()`,
    );
    return row?.owns ?? true;
  }

  async ping(): Promise<boolean> {
    try {
      await this.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

/** TypeORM returns [rows, count] for UPDATE ... RETURNING on postgres; give callers rows. */
function normalizeRows<T>(result: unknown): T[] {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') {
    return result[0] as T[];
  }
  return Array.isArray(result) ? (result as T[]) : [];
}

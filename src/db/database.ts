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

/** Runs a statement (or a transaction) with a failed statement turned into a DatabaseQueryError. */
async function statementFailures<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw error instanceof QueryFailedError ? new DatabaseQueryError(error) : error;
  }
}

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
        poolSize: options.poolSize ?? 10,
        extra: { application_name: 'tessera' },
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

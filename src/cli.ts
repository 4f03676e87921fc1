// The `tessera` command. Exit status: 0 success, 1 failure (one line on stderr), 2 bad usage.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config/config.js';
import { Database } from './db/database.js';
import { acquireEmbeddedLock, EmbeddedDatabaseBusyError } from './db/embedded-lock.js';
import { startServices } from './services.js';
import { registerUser } from './users/register-user.js';
import { TesseraError } from './errors/errors.js';
import { listAllKeys } from './db/repositories/signing-keys.js';
import type { Role } from './db/repositories/users.js';
import { rewrapSecrets } from './keys/rewrap.js';
import { createClient } from './clients/clients.js';
import { pruneAuditLog, recordSecurityEvent, verifyAuditChain } from './db/repositories/security-events.js';
import { runWithAuditContext } from './audit/request-context.js';

const USAGE = `usage: tessera <command>
  serve                                   start the service (same as npm start)
  migrate                                 apply pending migrations, then exit
  users create --email E [--role R]       create a user (role: admin, moderator, user); password on stdin
  keys list                               list signing keys with state, alg and times
  keys rotate [--purpose access|refresh]  start a rotation: a next key, signing after KEY_PUBLISH_AHEAD
  keys revoke KID                         revoke a (compromised) key at once
  keys rewrap                             re-seal every secret under MASTER_KEY (old key in MASTER_KEY_PREVIOUS)
  clients create --name N --scope "a b" [--grant client_credentials] [--introspect]
                                          register a confidential client; prints client_id and client_secret once
  audit verify                            check the audit log's hash chain; exit 1 naming the first broken event
  audit prune [--days N]                  delete events older than N days (AUDIT_RETENTION_DAYS), keeping the chain checkable`;

class UsageError extends Error {}

export async function main(argv: string[]): Promise<number> {
  try {
    // Security events recorded by a one-shot command name the command line as their actor
    // (not `serve`: everything it starts would inherit that).
    await (argv[0] === 'serve' ? run(argv) : runWithAuditContext({ actor: () => 'cli' }, () => run(argv)));
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`tessera: ${error.message}\n${USAGE}\n`);
      return 2;
    }
    process.stderr.write(`tessera: ${describe(error)}\n`);
    return 1;
  }
}

function describe(error: unknown): string {
  if (error instanceof ConfigError || error instanceof EmbeddedDatabaseBusyError) return error.message;
  if (error instanceof TesseraError) return error.description;
  const code = (error as { code?: string }).code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND') return 'cannot reach the database (check DATABASE_URL)';
  return (error as Error)?.message?.split('\n')[0] ?? 'failed';
}

async function run(argv: string[]): Promise<void> {
  const [command, sub, ...rest] = argv;
  switch (command) {
    case 'serve': {
      if (sub !== undefined) throw new UsageError('serve takes no arguments');
      const { serve } = await import('./server.js');
      await serve();
      return;
    }
    case 'migrate': {
      if (sub !== undefined) throw new UsageError('migrate takes no arguments');
      const config = loadConfig();
      const lock = config.database.kind === 'pglite' ? acquireEmbeddedLock(config.database.dataDir) : undefined;
      const db = await Database.connect(config.database);
      try {
        const applied = await db.migrate();
        process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'nothing to apply\n');
      } finally {
        await db.close();
        lock?.release();
      }
      return;
    }
    case 'users':
      if (sub !== 'create') throw new UsageError(`unknown users command ${sub ?? ''}`.trim());
      return usersCreate(rest);
    case 'keys':
      return keysCommand(sub, rest);
    case 'clients':
      if (sub !== 'create') throw new UsageError(`unknown clients command ${sub ?? ''}`.trim());
      return clientsCreate(rest);
    case 'audit':
      return auditCommand(sub, rest);
    case undefined:
    case '--help':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      if (command === undefined) throw new UsageError('a command is needed');
      return;
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

async function usersCreate(args: string[]): Promise<void> {
  let values: { email?: string; role?: string };
  try {
    ({ values } = parseArgs({ args, options: { email: { type: 'string' }, role: { type: 'string', default: 'user' } }, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (!values.email) throw new UsageError('--email is required');
  const role = values.role ?? 'user';
  if (!['admin', 'moderator', 'user'].includes(role)) throw new UsageError('--role must be admin, moderator or user');
  // Settings first, so a bad one is reported before anyone types a password.
  const config = loadConfig();
  const password = await readPassword();
  if (!password) throw new Error('no password given on standard input');
  const services = await startServices(config, { keySync: false });
  try {
    const result = await registerUser(services, { email: values.email, password, roles: [role as Role] });
    if (!result.created) throw new Error(`a user with email ${result.email} already exists`);
    process.stdout.write(`${JSON.stringify({ id: result.user.id, email: result.user.email, roles: result.user.roles })}\n`);
  } finally {
    await services.close();
  }
}

/** The password comes from stdin, never from an argument (which `ps` would show). */
async function readPassword(): Promise<string> {
  const stdin = process.stdin;
  if (stdin.isTTY) {
    process.stderr.write('Password: ');
    stdin.setRawMode(true);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stdin) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    if (stdin.isTTY) {
      const text = buf.toString('utf8');
      if (text.includes('\u0003')) {
        stdin.setRawMode(false);
        throw new Error('cancelled');
      }
      const end = text.search(/[\r\n]/);
      chunks.push(Buffer.from(end >= 0 ? text.slice(0, end) : text));
      if (end >= 0) break;
    } else {
      chunks.push(buf);
      total += buf.length;
      if (total > 64 * 1024) throw new Error('standard input is too large for a password');
    }
  }
  if (stdin.isTTY) {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write('\n');
  }
  // One trailing newline is the line end of `echo` or a file, not part of the password.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function keysCommand(sub: string | undefined, args: string[]): Promise<void> {
  switch (sub) {
    case 'list':
      if (args.length) throw new UsageError('keys list takes no arguments');
      return keysList();
    case 'rotate': {
      let purpose: string;
      try {
        purpose = parseArgs({ args, options: { purpose: { type: 'string', default: 'access' } }, strict: true }).values.purpose ?? 'access';
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
      if (purpose !== 'access' && purpose !== 'refresh') throw new UsageError('--purpose must be access or refresh');
      return withServices(async (services) => {
        const result = await services.keys.rotate(purpose as 'access' | 'refresh');
        process.stdout.write(
          `${JSON.stringify({ kid: result.kid, purpose, state: 'next', activates_at: result.activatesAt.toISOString(), created: result.created })}\n`,
        );
      });
    }
    case 'revoke': {
      const [kid, ...extra] = args;
      if (!kid || extra.length || !/^[A-Za-z0-9_-]{43}$/.test(kid)) throw new UsageError('keys revoke takes one KID (an RFC 7638 thumbprint)');
      return withServices(async (services) => {
        const result = await services.keys.revoke(kid);
        if (result.kind === 'unknown') throw new Error(`no key with kid ${kid}`);
        const replacement = result.kind === 'revoke' ? result.replacement : undefined;
        process.stdout.write(`${JSON.stringify({ kid, state: 'revoked', ...(replacement ? { replacement } : {}) })}\n`);
      });
    }
    case 'rewrap':
      if (args.length) throw new UsageError('keys rewrap takes no arguments; set MASTER_KEY (new) and MASTER_KEY_PREVIOUS (old)');
      return withServices(async (services) => {
        const result = await rewrapSecrets(services.db, services.box);
        process.stdout.write(`${JSON.stringify({ rewrapped: result.rewrapped, already_current: result.alreadyCurrent, master_key_id: services.box.keyId })}\n`);
      });
    default:
      throw new UsageError(`unknown keys command ${sub ?? ''}`.trim());
  }
}

async function clientsCreate(args: string[]): Promise<void> {
  let values: { name?: string; scope?: string; grant?: string[]; introspect?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: { name: { type: 'string' }, scope: { type: 'string' }, grant: { type: 'string', multiple: true }, introspect: { type: 'boolean', default: false } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (!values.name) throw new UsageError('--name is required');
  if (values.scope === undefined) throw new UsageError('--scope is required (space-separated)');
  const grants = values.grant ?? ['client_credentials'];
  if (!grants.every((g) => g === 'client_credentials')) throw new UsageError('--grant must be client_credentials');
  const { name, scope } = values;
  return withServices(async (services) => {
    const { client, secret } = await createClient(services.db, { name, scopes: scope.split(' ').filter(Boolean), grantTypes: grants, canIntrospect: values.introspect ?? false });
    await recordSecurityEvent(services.db, { type: 'client_created', detail: { client_id: client.id, name: client.name, by: 'cli' } });
    process.stdout.write(
      `${JSON.stringify({ client_id: client.id, client_secret: secret, name: client.name, scope: client.scopes.join(' '), grant_types: client.grant_types, introspect: client.can_introspect })}\n`,
    );
  });
}

/** Opens the database alone (no keys, no migrations), as `migrate` does. */
async function withDatabase<T>(fn: (db: Database) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const lock = config.database.kind === 'pglite' ? acquireEmbeddedLock(config.database.dataDir) : undefined;
  const db = await Database.connect(config.database, { poolSize: 2 });
  try {
    return await fn(db);
  } finally {
    await db.close();
    lock?.release();
  }
}

async function auditCommand(sub: string | undefined, args: string[]): Promise<void> {
  switch (sub) {
    case 'verify': {
      if (args.length) throw new UsageError('audit verify takes no arguments');
      const report = await withDatabase(async (db) => {
        const [column] = await db.query(`SELECT 1 FROM information_schema.columns WHERE table_name = 'security_events' AND column_name = 'hash'`);
        if (!column) throw new Error('the audit log has no hash chain yet: run tessera migrate');
        return verifyAuditChain(db);
      });
      if (!report.ok) throw new Error(`audit log broken at event ${report.broken!.id ?? '?'}: ${report.broken!.reason}`);
      process.stdout.write(
        `${JSON.stringify({ ok: true, events: report.events, first_id: report.firstId, head: report.head, anchor: report.anchor ? { through_id: report.anchor.throughId, hash: report.anchor.hash } : null })}\n`,
      );
      return;
    }
    case 'prune': {
      let days: string | undefined;
      try {
        days = parseArgs({ args, options: { days: { type: 'string' } }, strict: true, allowPositionals: false }).values.days;
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
      if (days !== undefined && !/^[1-9]\d{0,4}$/.test(days)) throw new UsageError('--days must be a whole number of days, at least 1');
      const retention = days !== undefined ? Number(days) : loadConfig().audit.retentionDays;
      if (retention === 0) throw new Error('AUDIT_RETENTION_DAYS is 0 (keep forever): nothing to prune; pass --days N');
      const result = await withDatabase((db) => pruneAuditLog(db, retention));
      process.stdout.write(`${JSON.stringify({ deleted: result.deleted, through_id: result.throughId, retention_days: retention })}\n`);
      return;
    }
    default:
      throw new UsageError(`unknown audit command ${sub ?? ''}`.trim());
  }
}

async function withServices(fn: (services: Awaited<ReturnType<typeof startServices>>) => Promise<void>): Promise<void> {
  const services = await startServices(loadConfig(), { keySync: false });
  try {
    await fn(services);
  } finally {
    await services.close();
  }
}

async function keysList(): Promise<void> {
  const config = loadConfig();
  const services = await startServices(config, { keySync: false });
  try {
    const keys = await listAllKeys(services.db);
    const iso = (d: Date | null) => (d ? d.toISOString() : '-');
    const rows = keys.map((k) => [k.kid, k.purpose, k.alg, k.state, iso(k.createdAt), iso(k.activatesAt), iso(k.retiredAt), iso(k.expiresAt), iso(k.revokedAt)]);
    const header = ['KID', 'PURPOSE', 'ALG', 'STATE', 'CREATED', 'ACTIVATES', 'RETIRED', 'EXPIRES', 'REVOKED'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    for (const row of [header, ...rows]) process.stdout.write(`${row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
  } finally {
    await services.close();
  }
}

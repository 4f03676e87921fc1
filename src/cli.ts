// The `tessera` command. Exit status: 0 success, 1 failure (one line on stderr), 2 bad usage.
// Every command is one entry of COMMANDS, which also gives its usage and its `--help`.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { migrations } from '../migrations/index.js';
import { pruneAuditLog } from './audit/audit-log.js';
import { loadAuditKey } from './audit/audit-key.js';
import { newestCheckpoint } from './audit/audit-reads.js';
import { readCheckpointDocument } from './audit/checkpoint-document.js';
import { verifyAuditLog, type SavedCheckpoint } from './audit/verify-log.js';
import { CheckpointError } from './domain/audit/checkpoint.js';
import { runWithAuditContext } from './audit/request-context.js';
import { clientView, registerClient, type NewClient } from './clients/clients.js';
import {
  deleteClient,
  findClients,
  getClient,
  rotateClientSecret,
  updateClient,
  type ClientChange,
} from './clients/manage-clients.js';
import { ConfigError, loadConfig, type Config } from './config/config.js';
import { openCore, type Core } from './core.js';
import { Database } from './db/database.js';
import { acquireEmbeddedLock, EmbeddedDatabaseBusyError } from './db/embedded-lock.js';
import { migrateDatabase } from './db/open-database.js';
import { listAllKeys } from './db/repositories/signing-keys.js';
import { findUserByEmail, type Role } from './db/repositories/users.js';
import { normalizeEmail } from './domain/users/email.js';
import { createMailDelivery } from './mail/delivery.js';
import { MailOutbox } from './mail/outbox.js';
import { sendPasswordResetFor } from './users/password-reset.js';
import { CLIENT_GRANT_TYPES, checkClientMetadata } from './domain/clients/client-metadata.js';
import { TesseraError } from './errors/errors.js';
import { rewrapSecrets } from './keys/rewrap.js';
import { registerUser } from './users/register-user.js';

export interface Command {
  /** The words after `tessera`. */
  path: readonly string[];
  /** What follows the words in the usage line. */
  args?: string;
  summary: string;
  /** The rest of its `--help`: options, output, what it touches. */
  details: string;
  /** Opens the database only to read: never migrates, creates keys, hashes or starts timers. */
  readOnly?: boolean;
  run(args: string[]): Promise<void>;
}

class UsageError extends Error {
  /** The command (or group) whose usage goes with the message; the whole list when empty. */
  constructor(
    message: string,
    public topic: readonly string[] | undefined = undefined,
  ) {
    super(message);
  }
}

const READS_ONLY =
  'It only reads: it never migrates, creates keys or writes, and on a database that\n`tessera migrate` has not prepared it exits 1 without creating anything.';

export const COMMANDS: readonly Command[] = [
  {
    path: ['serve'],
    summary: 'start the service (same as npm start)',
    details:
      'Migrates, makes sure signing keys exist, then serves HTTP until SIGINT or SIGTERM.\nSettings come from environment variables (see the README).',
    async run(args) {
      if (args.length) throw new UsageError('serve takes no arguments');
      const { serve } = await import('./server.js');
      await serve();
    },
  },
  {
    path: ['migrate'],
    summary: 'apply pending migrations, then exit',
    details: 'Prints the migrations it applied, or "nothing to apply". Servers also migrate at start.',
    async run(args) {
      if (args.length) throw new UsageError('migrate takes no arguments');
      const config = loadConfig();
      const lock = config.database.kind === 'pglite' ? acquireEmbeddedLock(config.database.dataDir) : undefined;
      try {
        const db = await Database.connect(config.database);
        try {
          const applied = await migrateDatabase(db, config.database);
          process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'nothing to apply\n');
        } finally {
          await db.close();
        }
      } finally {
        lock?.release();
      }
    },
  },
  {
    path: ['users', 'create'],
    args: '--email E [--role admin|moderator|user]',
    summary: 'create a user (role: user by default); password on stdin',
    details:
      'The password is read from standard input (a terminal gets a prompt without echo),\nnever from an argument. Prints {"id","email","roles"} as one line of JSON.',
    run: usersCreate,
  },
  {
    path: ['users', 'reset-password'],
    args: '--email E',
    summary: 'mail the user a password reset link (the link works PASSWORD_RESET_TTL seconds)',
    details:
      'Queues the mail in the outbox and tries to send it at once (SMTP_URL, or an .eml file under\nDATA_DIR/mail outside production); a running server retries what could not be sent.\nPrints {"id","email","sent"} as one line of JSON. No password is read or shown.',
    run: usersResetPassword,
  },
  {
    path: ['users', 'reset-mfa'],
    args: '--email E',
    summary: "remove every second factor and recovery code of a user (a lost device), ending the user's sessions",
    details:
      'For an account nobody else can reset over the API (the only admin). Audited (mfa_reset), and\nthe user is mailed. An account the second-factor policy covers enrols again at its next login.\nPrints {"id","email","removed","sent"} as one line of JSON.',
    run: usersResetMfa,
  },
  {
    path: ['keys', 'list'],
    summary: 'list signing keys with state, alg and times',
    details: `Prints a table: kid, purpose, alg, state, created, activates, retired, expires, revoked.\n${READS_ONLY}`,
    readOnly: true,
    run: keysList,
  },
  {
    path: ['keys', 'rotate'],
    args: '[--purpose access|refresh]',
    summary: 'start a rotation: a next key, signing after KEY_PUBLISH_AHEAD',
    details:
      'The new key is published at once (access keys) and starts signing on every instance\nafter KEY_PUBLISH_AHEAD. Prints {"kid","purpose","state","activates_at","created"}.',
    run: keysRotate,
  },
  {
    path: ['keys', 'revoke'],
    args: 'KID',
    summary: 'revoke a (compromised) key at once',
    details:
      'KID is the key\'s RFC 7638 thumbprint (see tessera keys list). A revoked signing key\nis replaced immediately. Prints {"kid","state"} and the replacement, if any.',
    run: keysRevoke,
  },
  {
    path: ['keys', 'rewrap'],
    summary: 're-seal every secret under MASTER_KEY (old key in MASTER_KEY_PREVIOUS)',
    details:
      'One compare-and-set per row, so an interrupted run is simply run again.\nPrints {"rewrapped","already_current","master_key_id"}.',
    run: keysRewrap,
  },
  {
    path: ['clients', 'create'],
    args: '--name N --scope "a b" [--type public|confidential] [--grant G]... [--redirect-uri URI]... [--post-logout-redirect-uri URI]... [--first-party] [--introspect] [--no-require-pkce]',
    summary: 'register a client; prints client_id, and client_secret once for a confidential one',
    details: [
      '--type        confidential (default: gets a secret) or public (an app that cannot keep one: no secret, PKCE).',
      '--grant G     client_credentials, authorization_code, refresh_token; repeat for several. Default:',
      '              authorization_code and refresh_token with --redirect-uri or --type public, else client_credentials.',
      '--redirect-uri URI, --post-logout-redirect-uri URI',
      '              repeat for several; matched exactly. https, http to 127.0.0.1, [::1] or localhost (any',
      '              http host outside production), or a private-use scheme like com.example.app:/callback.',
      '--first-party one of your own apps: users see no consent page.',
      '--introspect  lets a confidential client call /oauth/introspect and /oauth/revoked.',
      '--no-require-pkce',
      '              a confidential client may then redeem codes without PKCE (OpenID Connect nonce instead).',
      'Prints the client as one line of JSON. The secret is printed in this answer only; it is stored as a hash.',
    ].join('\n'),
    run: clientsCreate,
  },
  {
    path: ['clients', 'list'],
    summary: 'list the registered clients as a table',
    details: ['Columns: CLIENT_ID, TYPE, STATE (enabled or disabled), GRANTS, CREATED, NAME.', READS_ONLY].join('\n'),
    readOnly: true,
    run: clientsList,
  },
  {
    path: ['clients', 'show'],
    args: 'ID',
    summary: 'print one client as JSON (never its secret)',
    details: ['Prints the client as one line of JSON, as GET /admin/clients/{id} answers.', READS_ONLY].join('\n'),
    readOnly: true,
    run: clientsShow,
  },
  {
    path: ['clients', 'update'],
    args: 'ID [--name N] [--scope "a b"] [--grant G]... [--redirect-uri URI]... [--post-logout-redirect-uri URI]...',
    summary: "change a client's name, scopes, grants or URIs (checked like a registration)",
    details: [
      'Each option given replaces that field; repeat --grant and the URI options for several.',
      'Taking a scope or grant away ends the sessions of the client and revokes its tokens issued before.',
      'Prints the client as one line of JSON. Bad metadata is bad usage (exit 2).',
    ].join('\n'),
    run: clientsUpdate,
  },
  {
    path: ['clients', 'rotate-secret'],
    args: 'ID',
    summary: 'give a confidential client a new secret; the old one works CLIENT_SECRET_OVERLAP seconds more',
    details: [
      'Prints the client as one line of JSON with the new client_secret (shown this once) and',
      'previous_secret_expires_at, until when the old secret is still accepted (null with',
      'CLIENT_SECRET_OVERLAP=0). Rotating again within the overlap replaces the old secret.',
    ].join('\n'),
    run: clientsRotateSecret,
  },
  {
    path: ['clients', 'disable'],
    args: 'ID',
    summary: 'refuse a client at once: its sessions end, its access tokens are revoked',
    details:
      'Prints the client as one line of JSON. `tessera clients enable ID` lets it back in;\ntokens issued before stay refused.',
    run: (args) => clientsSetDisabled(args, true),
  },
  {
    path: ['clients', 'enable'],
    args: 'ID',
    summary: 'let a disabled client in again',
    details: 'Prints the client as one line of JSON.',
    run: (args) => clientsSetDisabled(args, false),
  },
  {
    path: ['clients', 'delete'],
    args: 'ID',
    summary: 'delete a client: its sessions end, its tokens are revoked, its consents and codes go',
    details: 'Prints {"client_id","deleted":true}.',
    run: clientsDelete,
  },
  {
    path: ['audit', 'verify'],
    args: '[--checkpoint FILE]',
    summary: 'recompute the audit tree from the events; exit 1 naming what no longer matches',
    details: [
      "Recomputes every sealed event's leaf and the tree in this process, and checks the roots",
      'against every signed checkpoint in the database and, with --checkpoint, against one saved',
      'earlier (the JSON `tessera audit checkpoint` prints or AUDIT_CHECKPOINT_URL received): the',
      'log must still hold, unchanged and in order, everything that checkpoint covered, and the',
      'database must hold the key that signed it.',
      'Prints {"ok","tree_size","root_hash","events","unsealed","pruned_size","checkpoints","against"}.',
      READS_ONLY,
    ].join('\n'),
    readOnly: true,
    run: auditVerify,
  },
  {
    path: ['audit', 'checkpoint'],
    summary: 'print the newest signed checkpoint of the audit log as one JSON object',
    details: [
      'Prints {"origin","tree_size","root_hash","timestamp","checkpoint","verifier_key"}: "checkpoint"',
      'is a C2SP tlog-checkpoint signed note, "verifier_key" the audit key in signed-note form.',
      "Keep it out of the database's reach and pass it to `tessera audit verify --checkpoint` later.",
      READS_ONLY,
    ].join('\n'),
    readOnly: true,
    run: auditCheckpoint,
  },
  {
    path: ['audit', 'prune'],
    args: '[--days N]',
    summary: 'delete events older than N days (AUDIT_RETENTION_DAYS), keeping the tree checkable',
    details:
      'Checks what it removes first, then keeps a prune record signed by the audit key (needs\nMASTER_KEY) and records an audit_pruned event. Prints {"deleted","pruned_size","retention_days"}.',
    run: auditPrune,
  },
];

const usageLine = (c: Command) => ['tessera', ...c.path, ...(c.args ? [c.args] : [])].join(' ');

function listing(commands: readonly Command[]): string {
  const heads = commands.map((c) => [...c.path, ...(c.args ? [c.args] : [])].join(' '));
  const width = Math.min(40, Math.max(...heads.map((h) => h.length)));
  return commands
    .map((c, i) =>
      heads[i]!.length > width
        ? `  ${heads[i]}\n  ${''.padEnd(width)}  ${c.summary}`
        : `  ${heads[i]!.padEnd(width)}  ${c.summary}`,
    )
    .join('\n');
}

/** The help for a command, a group of commands (`keys`), or everything (no words). */
function helpText(topic: readonly string[]): string {
  const command = COMMANDS.find((c) => c.path.join(' ') === topic.join(' '));
  if (command)
    return `usage: ${usageLine(command)}\n\n${command.summary[0]!.toUpperCase()}${command.summary.slice(1)}.\n${command.details}`;
  const group = COMMANDS.filter((c) => topic.length > 0 && topic.every((word, i) => c.path[i] === word));
  if (group.length) return `usage: tessera ${topic.join(' ')} <command>\n${listing(group)}`;
  return [
    'usage: tessera <command> [options]',
    listing(COMMANDS),
    '',
    'tessera help [command], tessera [command] --help   usage of all commands, or of one',
    'tessera --version                                   the version of Tessera',
    '',
    'Settings come from environment variables (see the README); --help and --version read none.',
    'Exit status: 0 success, 1 failure (one line on stderr), 2 bad usage.',
  ].join('\n');
}

const isTopic = (words: readonly string[]) =>
  words.length > 0 && COMMANDS.some((c) => words.every((word, i) => c.path[i] === word));
const wantsHelp = (args: readonly string[]) => {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
};

export async function main(argv: string[]): Promise<number> {
  try {
    // Security events recorded by a one-shot command name the command line as their actor
    // (not `serve`: everything it starts would inherit that).
    await (argv[0] === 'serve' ? run(argv) : runWithAuditContext({ actor: () => 'cli' }, () => run(argv)));
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`tessera: ${error.message}\n${helpText(error.topic ?? [])}\n`);
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
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError('a command is needed');
  if (first === '--help' || first === '-h') return print(helpText([]));
  if (first === '--version') {
    if (rest.length) throw new UsageError('--version takes no arguments');
    return print(packageVersion());
  }
  if (first === 'help') {
    if (rest.length && !isTopic(rest)) throw new UsageError(`no command ${rest.join(' ')}`);
    return print(helpText(rest));
  }
  const command = COMMANDS.find((c) => c.path.every((word, i) => argv[i] === word));
  if (!command) {
    if (!isTopic([first])) throw new UsageError(`unknown command ${first}`);
    const [sub] = rest;
    if (sub === '--help' || sub === '-h') return print(helpText([first]));
    throw new UsageError(sub === undefined ? `${first} needs a command` : `unknown ${first} command ${sub}`, [first]);
  }
  const args = argv.slice(command.path.length);
  if (wantsHelp(args)) return print(helpText(command.path));
  try {
    await command.run(args);
  } catch (error) {
    if (error instanceof UsageError) error.topic ??= command.path;
    throw error;
  }
}

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** Columns padded to their widest cell, two spaces apart (keys list, clients list). */
function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows])
    process.stdout.write(
      `${row
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd()}\n`,
    );
}

/** The version in package.json: one level up from src/cli.ts, two from dist/src/cli.js. */
function packageVersion(): string {
  for (const candidate of ['../package.json', '../../package.json']) {
    const file = new URL(candidate, import.meta.url);
    if (!existsSync(file)) continue;
    const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
    if (manifest.name === 'tessera' && typeof manifest.version === 'string') return manifest.version;
  }
  throw new Error('cannot find the package.json of tessera');
}

/** Parses options the strict way; a parse failure is bad usage, not a failure. */
function options<T extends ParseArgsOptionsConfig>(args: string[], spec: T) {
  try {
    return parseArgs({ args, options: spec, strict: true as const, allowPositionals: false as const }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

async function usersCreate(args: string[]): Promise<void> {
  const values = options(args, { email: { type: 'string' }, role: { type: 'string', default: 'user' } });
  if (!values.email) throw new UsageError('--email is required');
  const role = values.role ?? 'user';
  if (!['admin', 'moderator', 'user'].includes(role)) throw new UsageError('--role must be admin, moderator or user');
  // Settings first, so a bad one is reported before anyone types a password.
  const config = loadConfig();
  const password = await readPassword();
  if (!password) throw new Error('no password given on standard input');
  const core = await openCore(config);
  try {
    const result = await registerUser(core, { email: values.email, password, roles: [role as Role] });
    if (!result.created) throw new Error(`a user with email ${result.email} already exists`);
    process.stdout.write(
      `${JSON.stringify({ id: result.user.id, email: result.user.email, roles: result.user.roles })}\n`,
    );
  } finally {
    await core.close();
  }
}

async function usersResetPassword(args: string[]): Promise<void> {
  const values = options(args, { email: { type: 'string' } });
  if (!values.email) throw new UsageError('--email is required');
  const config = loadConfig();
  if (!config.accounts.selfServiceReset) throw new Error('password reset mails need SMTP_URL in production');
  await withCore(async (core) => {
    const user = await findUserByEmail(core.db, values.email!);
    if (!user) throw new Error(`no user with email ${normalizeEmail(values.email!)}`);
    const mail = new MailOutbox(core.box, { issuer: config.issuer });
    await sendPasswordResetFor({ db: core.db, mail, config }, user, { actor: 'cli', ip: null });
    const sent = await deliverQueuedMail(core, config);
    process.stdout.write(`${JSON.stringify({ id: user.id, email: user.email, sent: sent > 0 })}\n`);
  });
}

/** Sends what is queued now; a running server retries what could not be sent. How many went. */
async function deliverQueuedMail(core: Core, config: Config): Promise<number> {
  // Problems are one line on stderr (the mail layer logs no secret); progress is not shown.
  const say = (_detail: object, message: string) => void process.stderr.write(`${message}\n`);
  const log = { debug: () => undefined, info: () => undefined, warn: say, error: say };
  const delivery = createMailDelivery(core.db, core.box, config, log);
  try {
    return await delivery.runOnce();
  } finally {
    await delivery.close();
  }
}

async function usersResetMfa(args: string[]): Promise<void> {
  const values = options(args, { email: { type: 'string' } });
  if (!values.email) throw new UsageError('--email is required');
  const config = loadConfig();
  await withCore(async (core) => {
    const user = await findUserByEmail(core.db, values.email!);
    if (!user) throw new Error(`no user with email ${normalizeEmail(values.email!)}`);
    const mail = new MailOutbox(core.box, { issuer: config.issuer });
    // Loaded here: the WebAuthn library is no cost to every other command's start.
    const { SecondFactors } = await import('./mfa/second-factors.js');
    const factors = new SecondFactors({ db: core.db, box: core.box, mail, config });
    const removed = await factors.resetAll(user, { userId: 'cli', sessionId: undefined, ip: null });
    const sent = await deliverQueuedMail(core, config);
    process.stdout.write(`${JSON.stringify({ id: user.id, email: user.email, removed, sent: sent > 0 })}\n`);
  });
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
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

async function keysList(args: string[]): Promise<void> {
  if (args.length) throw new UsageError('keys list takes no arguments');
  const keys = await withDatabase((db) =>
    db.transaction(async (tx) => {
      await tx.query('SET TRANSACTION READ ONLY');
      return listAllKeys(tx);
    }),
  );
  const iso = (d: Date | null) => (d ? d.toISOString() : '-');
  const rows = keys.map((k) => [
    k.kid,
    k.purpose,
    k.alg,
    k.state,
    iso(k.createdAt),
    iso(k.activatesAt),
    iso(k.retiredAt),
    iso(k.expiresAt),
    iso(k.revokedAt),
  ]);
  const header = ['KID', 'PURPOSE', 'ALG', 'STATE', 'CREATED', 'ACTIVATES', 'RETIRED', 'EXPIRES', 'REVOKED'];
  printTable(header, rows);
}

async function keysRotate(args: string[]): Promise<void> {
  const purpose = options(args, { purpose: { type: 'string', default: 'access' } }).purpose ?? 'access';
  if (purpose !== 'access' && purpose !== 'refresh') throw new UsageError('--purpose must be access or refresh');
  await withCore(async (core) => {
    const result = await core.keys.rotate(purpose);
    process.stdout.write(
      `${JSON.stringify({ kid: result.kid, purpose, state: 'next', activates_at: result.activatesAt.toISOString(), created: result.created })}\n`,
    );
  });
}

async function keysRevoke(args: string[]): Promise<void> {
  const [kid, ...extra] = args;
  if (!kid || extra.length || !/^[A-Za-z0-9_-]{43}$/.test(kid))
    throw new UsageError('keys revoke takes one KID (an RFC 7638 thumbprint)');
  await withCore(async (core) => {
    const result = await core.keys.revoke(kid);
    if (result.kind === 'unknown') throw new Error(`no key with kid ${kid}`);
    const replacement = result.kind === 'revoke' ? result.replacement : undefined;
    process.stdout.write(`${JSON.stringify({ kid, state: 'revoked', ...(replacement ? { replacement } : {}) })}\n`);
  });
}

async function keysRewrap(args: string[]): Promise<void> {
  if (args.length)
    throw new UsageError('keys rewrap takes no arguments; set MASTER_KEY (new) and MASTER_KEY_PREVIOUS (old)');
  await withCore(async (core) => {
    const result = await rewrapSecrets(core.db, core.box);
    process.stdout.write(
      `${JSON.stringify({ rewrapped: result.rewrapped, already_current: result.alreadyCurrent, master_key_id: core.box.keyId })}\n`,
    );
  });
}

async function clientsCreate(args: string[]): Promise<void> {
  const values = options(args, {
    name: { type: 'string' },
    scope: { type: 'string' },
    type: { type: 'string' },
    grant: { type: 'string', multiple: true },
    'redirect-uri': { type: 'string', multiple: true },
    'post-logout-redirect-uri': { type: 'string', multiple: true },
    'first-party': { type: 'boolean' },
    introspect: { type: 'boolean' },
    'no-require-pkce': { type: 'boolean' },
  });
  if (!values.name) throw new UsageError('--name is required');
  if (values.scope === undefined) throw new UsageError('--scope is required (space-separated)');
  if (values.type !== undefined && values.type !== 'confidential' && values.type !== 'public')
    throw new UsageError('--type must be confidential or public');
  const grants = values.grant;
  if (grants && !grants.every((g) => (CLIENT_GRANT_TYPES as readonly string[]).includes(g)))
    throw new UsageError(`--grant must be one of ${CLIENT_GRANT_TYPES.join(', ')}`);
  const client: NewClient = {
    name: values.name,
    type: values.type,
    grantTypes: grants,
    redirectUris: values['redirect-uri'],
    postLogoutRedirectUris: values['post-logout-redirect-uri'],
    scopes: values.scope.split(' ').filter(Boolean),
    firstParty: values['first-party'],
    canIntrospect: values.introspect,
    ...(values['no-require-pkce'] ? { requirePkce: false } : {}),
  };
  // Settings, then metadata, both before the database is opened: a bad value is bad usage.
  const config = loadConfig();
  const settings = { production: config.env === 'production' };
  const checked = checkClientMetadata(client, settings);
  if (!checked.ok) throw new UsageError(checked.description);
  const core = await openCore(config);
  try {
    const { client: created, secret } = await registerClient(core.db, client, 'cli', settings);
    process.stdout.write(
      `${JSON.stringify({ ...clientView(created), ...(secret === undefined ? {} : { client_secret: secret }) })}\n`,
    );
  } finally {
    await core.close();
  }
}

/** The one client id a command takes; anything else is bad usage. */
function clientIdArgument(command: string, args: string[]): string {
  const [id, ...extra] = args;
  if (!id || extra.length || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new UsageError(`clients ${command} takes one ID`);
  return id;
}

/** A missing client fails with its id named; a refused change is bad usage, as for clients create. */
async function clientCommand<T>(id: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof TesseraError && error.code === 'not_found')
      throw new Error(`no client with id ${id}`, { cause: error });
    if (error instanceof TesseraError && (error.code === 'invalid_request' || error.code === 'invalid_scope'))
      throw new UsageError(error.description);
    throw error;
  }
}

async function clientsList(args: string[]): Promise<void> {
  if (args.length) throw new UsageError('clients list takes no arguments');
  const clients = await withDatabase((db) =>
    db.transaction(async (tx) => {
      await tx.query('SET TRANSACTION READ ONLY');
      const all = [];
      let after: string | undefined;
      do {
        const page = await findClients(tx, { limit: 100, ...(after ? { after } : {}) });
        all.push(...page.clients);
        after = page.next ?? undefined;
      } while (after);
      return all;
    }),
  );
  const rows = clients.map((c) => [
    c.id,
    c.type,
    c.disabled ? 'disabled' : 'enabled',
    c.grant_types.join(','),
    new Date(c.created_at).toISOString(),
    // A name is the admin's text: no control characters reach the terminal.
    c.name.replace(/\p{Cc}/gu, '?'),
  ]);
  const header = ['CLIENT_ID', 'TYPE', 'STATE', 'GRANTS', 'CREATED', 'NAME'];
  printTable(header, rows);
}

async function clientsShow(args: string[]): Promise<void> {
  const id = clientIdArgument('show', args);
  const client = await clientCommand(id, () => withDatabase((db) => getClient(db, id)));
  process.stdout.write(`${JSON.stringify(clientView(client))}\n`);
}

const UPDATE_OPTIONS = ['name', 'scope', 'grant', 'redirect-uri', 'post-logout-redirect-uri'] as const;

async function clientsUpdate(args: string[]): Promise<void> {
  const [id, ...rest] = args;
  // Client ids are base64url, so one may begin with '-': only a known option in first place
  // means the ID was forgotten.
  if (!id || UPDATE_OPTIONS.some((o) => id === `--${o}` || id.startsWith(`--${o}=`)))
    throw new UsageError('clients update takes an ID first');
  clientIdArgument('update', [id]);
  const values = options(rest, {
    name: { type: 'string' },
    scope: { type: 'string' },
    grant: { type: 'string', multiple: true },
    'redirect-uri': { type: 'string', multiple: true },
    'post-logout-redirect-uri': { type: 'string', multiple: true },
  });
  const grants = values.grant;
  if (grants && !grants.every((g) => (CLIENT_GRANT_TYPES as readonly string[]).includes(g)))
    throw new UsageError(`--grant must be one of ${CLIENT_GRANT_TYPES.join(', ')}`);
  const scopes = values.scope?.split(' ').filter(Boolean);
  if (scopes && scopes.length === 0) throw new UsageError('--scope needs at least one scope');
  const change: ClientChange = {
    ...(values.name !== undefined ? { name: values.name } : {}),
    ...(scopes ? { scopes } : {}),
    ...(grants ? { grantTypes: grants } : {}),
    ...(values['redirect-uri'] ? { redirectUris: values['redirect-uri'] } : {}),
    ...(values['post-logout-redirect-uri'] ? { postLogoutRedirectUris: values['post-logout-redirect-uri'] } : {}),
  };
  if (Object.keys(change).length === 0) throw new UsageError('clients update needs something to change');
  await withCore(async (core) => {
    const settings = { production: core.config.env === 'production' };
    const client = await clientCommand(id, () => updateClient(core, id, change, 'cli', settings));
    process.stdout.write(`${JSON.stringify(clientView(client))}\n`);
  });
}

async function clientsRotateSecret(args: string[]): Promise<void> {
  const id = clientIdArgument('rotate-secret', args);
  await withCore(async (core) => {
    const { client, secret } = await clientCommand(id, () => rotateClientSecret(core, id, 'cli'));
    process.stdout.write(`${JSON.stringify({ ...clientView(client), client_secret: secret })}\n`);
  });
}

async function clientsSetDisabled(args: string[], disabled: boolean): Promise<void> {
  const id = clientIdArgument(disabled ? 'disable' : 'enable', args);
  await withCore(async (core) => {
    const settings = { production: core.config.env === 'production' };
    const client = await clientCommand(id, () => updateClient(core, id, { disabled }, 'cli', settings));
    process.stdout.write(`${JSON.stringify(clientView(client))}\n`);
  });
}

async function clientsDelete(args: string[]): Promise<void> {
  const id = clientIdArgument('delete', args);
  await withCore(async (core) => {
    await clientCommand(id, () => deleteClient(core, id, 'cli'));
    process.stdout.write(`${JSON.stringify({ client_id: id, deleted: true })}\n`);
  });
}

async function auditVerify(args: string[]): Promise<void> {
  const { checkpoint: file } = options(args, { checkpoint: { type: 'string' } });
  let saved: SavedCheckpoint | undefined;
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      throw new Error(`cannot read the checkpoint file ${file}`);
    }
    try {
      saved = readCheckpointDocument(text);
    } catch (error) {
      if (error instanceof CheckpointError)
        throw new Error(`the saved checkpoint does not verify: ${error.message}`, { cause: error });
      throw error;
    }
  }
  const report = await withDatabase((db) =>
    db.transaction(async (tx) => {
      await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      return verifyAuditLog(tx, { saved });
    }),
  );
  if (!report.ok) {
    const where = report.problem!.eventId !== undefined ? ` (event ${report.problem!.eventId})` : '';
    throw new Error(`audit log broken${where}: ${report.problem!.reason}`);
  }
  process.stdout.write(
    `${JSON.stringify({
      ok: true,
      tree_size: report.treeSize,
      root_hash: report.rootHash,
      events: report.events,
      unsealed: report.unsealed,
      pruned_size: report.prunedSize,
      checkpoints: report.checkpoints,
      against: report.against
        ? { tree_size: report.against.treeSize, root_hash: report.against.rootHash, covered: report.against.covered }
        : null,
    })}\n`,
  );
}

async function auditCheckpoint(args: string[]): Promise<void> {
  if (args.length) throw new UsageError('audit checkpoint takes no arguments');
  const doc = await withDatabase((db) => newestCheckpoint(db));
  if (!doc) throw new Error('no checkpoint yet: no event has been sealed (a running server seals within a second)');
  process.stdout.write(`${JSON.stringify(doc)}\n`);
}

async function auditPrune(args: string[]): Promise<void> {
  const { days } = options(args, { days: { type: 'string' } });
  if (days !== undefined && !/^[1-9]\d{0,4}$/.test(days))
    throw new UsageError('--days must be a whole number of days, at least 1');
  const config = loadConfig();
  const retention = days !== undefined ? Number(days) : config.audit.retentionDays;
  if (retention === 0) throw new Error('AUDIT_RETENTION_DAYS is 0 (keep forever): nothing to prune; pass --days N');
  await withCore(async (core) => {
    const key = await loadAuditKey(core.db, core.box, config.issuer);
    const result = await pruneAuditLog(core.db, key, retention, {
      keepUnexported: config.audit.exportUrl !== undefined,
    });
    process.stdout.write(
      `${JSON.stringify({ deleted: result.deleted, pruned_size: result.prunedSize, retention_days: retention })}\n`,
    );
  });
}

/**
 * Opens the database alone, for commands that work on the tables `migrate` made: no
 * migrations, keys, hasher or timers. A database that is missing or behind this version
 * is refused with one line, and nothing is created for it (not even the embedded
 * database's files).
 */
async function withDatabase<T>(fn: (db: Database) => Promise<T>): Promise<T> {
  const { database } = loadConfig();
  if (
    database.kind === 'pglite' &&
    !database.dataDir.startsWith('memory://') &&
    !existsSync(join(database.dataDir, 'PG_VERSION'))
  ) {
    throw new Error(`there is no database in ${database.dataDir} (DATA_DIR): run tessera migrate first`);
  }
  const lock = database.kind === 'pglite' ? acquireEmbeddedLock(database.dataDir) : undefined;
  try {
    const db = await Database.connect(database, { poolSize: 2 });
    try {
      await assertMigrated(db);
      return await fn(db);
    } finally {
      await db.close();
    }
  } finally {
    lock?.release();
  }
}

/** The tables this version reads exist only once every one of its migrations has run. */
async function assertMigrated(db: Database): Promise<void> {
  const [table] = await db.query<{ present: boolean }>(`SELECT to_regclass('migrations') IS NOT NULL AS present`);
  if (!table?.present) throw new Error('the database has no Tessera tables yet: run tessera migrate first');
  const applied = new Set((await db.query<{ name: string }>('SELECT name FROM migrations')).map((row) => row.name));
  const pending = migrations.filter((m) => !applied.has(m.name)).length;
  if (pending)
    throw new Error(
      `the database is ${pending} migration${pending === 1 ? '' : 's'} behind this version of Tessera: run tessera migrate first`,
    );
}

/** The commands that change things open the core: migrated, with signing keys and a warm hasher. */
async function withCore(fn: (core: Core) => Promise<void>): Promise<void> {
  const core = await openCore(loadConfig());
  try {
    await fn(core);
  } finally {
    await core.close();
  }
}

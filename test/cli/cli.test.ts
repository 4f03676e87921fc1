// The `tessera` command run for real, as a child process, against this file's database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { COMMANDS } from '../../src/cli.js';
import { Database } from '../../src/db/database.js';
import { migrations } from '../../migrations/index.js';
import { build, GOOD_PASSWORD, uniqueEmail } from '../helpers/build.js';
import { cliEnv as baseEnv, emptyDatabaseEnv, startCli as start, tessera, withDb } from '../helpers/cli.js';

function assertOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `exactly one line on stderr, got ${JSON.stringify(stderr)}`);
  assert.match(lines[0]!, pattern);
}

test('migrate applies what is pending, then has nothing to apply', async () => {
  // A database with nothing in it (the per-file ones are copies of a migrated template).
  const env = await emptyDatabaseEnv();
  const first = await tessera(['migrate'], { env });
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, `applied: ${migrations.map((m) => m.name).join(', ')}\n`);
  assert.equal(first.stderr, '');
  const second = await tessera(['migrate'], { env });
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stdout, 'nothing to apply\n');
});

test('users create makes an admin who can log in, without the password ever leaving stdin', async (t) => {
  const email = uniqueEmail('Admin');
  const password = 'amber-kettle-glacier-93';
  const result = await tessera(['users', 'create', '--email', `  ${email.toUpperCase()} `, '--role', 'admin'], {
    stdin: `${password}\n`,
  });
  assert.equal(result.code, 0, result.stderr);
  assert.ok(!result.stdout.includes(password) && !result.stderr.includes(password), 'the password is never printed');
  const lines = result.stdout.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, 'one line of JSON');
  const printed = JSON.parse(lines[0]!) as { id: string; email: string; roles: string[] };
  assert.match(printed.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(printed.email, email.toLowerCase(), 'the email is stored trimmed and lower-cased');
  assert.deepEqual(printed.roles, ['admin']);
  assert.deepEqual(
    Object.keys(printed).sort(),
    ['email', 'id', 'roles'],
    'nothing else is printed, no hash in particular',
  );

  const env = await baseEnv();
  const [row] = await withDb(env, (db) =>
    db.query<{ id: string; password_hash: string; roles: string[] }>(
      'SELECT id, password_hash, roles FROM users WHERE email = $1',
      [printed.email],
    ),
  );
  assert.equal(row?.id, printed.id);
  assert.match(row.password_hash, /^\$argon2id\$/);
  assert.ok(!row.password_hash.includes(password));

  // The trailing newline from stdin is a line end, not part of the password.
  const { app } = await build(t);
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
  assert.equal(login.statusCode, 200, login.body);
  const claims = decodeJwt(login.json().access_token);
  assert.equal(claims.sub, printed.id);
  assert.deepEqual(claims.roles, ['admin']);
  const withNewline = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password: `${password}\n` },
  });
  assert.equal(withNewline.statusCode, 401);
});

test('users create defaults to the user role', async () => {
  const email = uniqueEmail('plain');
  const result = await tessera(['users', 'create', '--email', email], { stdin: GOOD_PASSWORD });
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout).roles, ['user']);
});

test('a weak password is refused with one line, and no user is created', async () => {
  const email = uniqueEmail('weak');
  for (const password of ['tr0ub4dor&3', 'password1234']) {
    const result = await tessera(['users', 'create', '--email', email, '--role', 'admin'], { stdin: `${password}\n` });
    assert.equal(result.code, 1, `exit 1 for ${password}`);
    assertOneLine(result.stderr, /^tessera: .*password/i);
    assert.ok(!result.stderr.includes(password) && !result.stdout.includes(password), 'the password is never printed');
  }
  const empty = await tessera(['users', 'create', '--email', email], { stdin: '' });
  assert.equal(empty.code, 1);
  assertOneLine(empty.stderr, /^tessera: no password/);
  const rows = await withDb(await baseEnv(), (db) => db.query('SELECT 1 FROM users WHERE email = $1', [email]));
  assert.equal(rows.length, 0);
});

test('an existing email is refused and the existing account is left alone', async () => {
  const email = uniqueEmail('taken');
  const first = await tessera(['users', 'create', '--email', email, '--role', 'user'], { stdin: GOOD_PASSWORD });
  assert.equal(first.code, 0, first.stderr);
  const env = await baseEnv();
  const select = (db: Database) =>
    db.query<{ password_hash: string; roles: string[] }>('SELECT password_hash, roles FROM users WHERE email = $1', [
      email,
    ]);
  const [before] = await withDb(env, select);

  const second = await tessera(['users', 'create', '--email', email.toUpperCase(), '--role', 'admin'], {
    stdin: 'other-violet-harbor-58',
  });
  assert.equal(second.code, 1);
  assertOneLine(second.stderr, /already exists/);
  assert.equal(second.stdout, '');
  const after = await withDb(env, select);
  assert.equal(after.length, 1);
  assert.deepEqual(after[0], before, 'hash and roles unchanged');
});

const badUsage: [string, string[]][] = [
  ['no command', []],
  ['an unknown command', ['frobnicate']],
  ['an unknown users command', ['users', 'delete']],
  ['users create without --email', ['users', 'create']],
  ['users create --role root', ['users', 'create', '--email', 'root@example.com', '--role', 'root']],
  ['a password given as an argument', ['users', 'create', '--email', 'arg@example.com', '--password', GOOD_PASSWORD]],
  ['migrate with an argument', ['migrate', 'now']],
  ['keys revoke without a KID', ['keys', 'revoke']],
  ['keys rotate with an unknown purpose', ['keys', 'rotate', '--purpose', 'signing']],
  ['a command group without its command', ['keys']],
  ['an unknown keys command', ['keys', 'frobnicate']],
  ['an unknown option', ['keys', 'list', '--verbose']],
  ['an unknown option in place of a command', ['--frobnicate']],
  ['help for an unknown command', ['help', 'frobnicate']],
  ['--version with an argument', ['--version', 'now']],
  ['audit verify with an argument', ['audit', 'verify', 'now']],
];
// These stop before any database is opened, so they run side by side.
test('bad usage exits 2 with the usage text', { concurrency: true }, async (t) => {
  await Promise.all(
    badUsage.map(([what, args]) =>
      t.test(what, async () => {
        const result = await tessera(args, { stdin: `${GOOD_PASSWORD}\n` });
        assert.equal(result.code, 2, result.stderr);
        assert.match(result.stderr, /^tessera: .+\nusage: tessera/);
      }),
    ),
  );
});

test('an invalid setting exits 1 with a line naming the variable', { concurrency: true }, async (t) => {
  const cases: [command: string[], name: string, value: string][] = [
    [['migrate'], 'PORT', 'abc'],
    [['migrate'], 'PORT', '70000'],
    [['migrate'], 'SIGNING_ALG', 'HS256'],
    [['users', 'create', '--email', uniqueEmail('cfg')], 'PORT', 'abc'],
    // Only commands that open secrets read the master key.
    [['users', 'create', '--email', uniqueEmail('cfg')], 'MASTER_KEY', 'c2hvcnQ='],
  ];
  await Promise.all(
    cases.map(([command, name, value]) =>
      t.test(`${command.slice(0, 2).join(' ')} with ${name}=${value}`, async () => {
        const result = await tessera(command, { env: await baseEnv({ [name]: value }), stdin: GOOD_PASSWORD });
        assert.equal(result.code, 1, result.stderr);
        assertOneLine(result.stderr, new RegExp(`^tessera: .*\\b${name}\\b`));
        assert.equal(result.stdout, '');
      }),
    ),
  );
});

test('on the embedded database, a command refuses while the server holds DATA_DIR', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-cli-lock-'));
  const env = await baseEnv({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'info' });
  delete env.DATABASE_URL;

  const server = start(['serve'], env);
  const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
  t.after(async () => {
    if (server.exitCode === null && server.signalCode === null) {
      server.kill('SIGKILL');
      await exited;
    }
  });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not become ready: ${log}`)), 60_000);
    server.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      log += chunk;
      if (log.includes('tessera ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    server.stderr!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
    server.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${log}`));
    });
  });
  const lockFile = join(dataDir, 'tessera.lock');
  assert.equal(readFileSync(lockFile, 'utf8'), String(server.pid));

  const email = uniqueEmail('locked');
  const refused = await tessera(['users', 'create', '--email', email, '--role', 'admin'], {
    env,
    stdin: GOOD_PASSWORD,
  });
  assert.equal(refused.code, 1);
  assertOneLine(
    refused.stderr,
    new RegExp(`in use by another Tessera process \\(pid ${server.pid}\\).*Stop that process`),
  );
  assert.equal(refused.stdout, '');
  const migrate = await tessera(['migrate'], { env });
  assert.equal(migrate.code, 1);
  assertOneLine(migrate.stderr, /in use by another Tessera process/);
  const list = await tessera(['keys', 'list'], { env });
  assert.equal(list.code, 1, 'a command that only reads respects the lock too');
  assertOneLine(list.stderr, /in use by another Tessera process/);
  assert.equal(readFileSync(lockFile, 'utf8'), String(server.pid), 'the server keeps its lock');

  server.kill('SIGTERM');
  assert.equal(await exited, 0, 'the server closes cleanly');
  assert.ok(!existsSync(lockFile), 'the server released its lock');
  const rows = await withDb(env, (db) => db.query('SELECT 1 FROM users WHERE email = $1', [email]));
  assert.equal(rows.length, 0, 'the refused command wrote nothing');

  // With the server gone, the same command goes through.
  const retried = await tessera(['users', 'create', '--email', email, '--role', 'admin'], {
    env,
    stdin: GOOD_PASSWORD,
  });
  assert.equal(retried.code, 0, retried.stderr);
  assert.equal(JSON.parse(retried.stdout).email, email);
});

test('a lock left by a process that is gone does not block the embedded database', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-cli-stale-'));
  const env = await baseEnv({ DATA_DIR: dataDir });
  delete env.DATABASE_URL;
  // A child that has exited: its pid is no longer alive.
  const gone = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => gone.once('exit', resolve));
  writeFileSync(join(dataDir, 'tessera.lock'), String(gone.pid));
  const result = await tessera(['migrate'], { env });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^applied: /);
});

// --help and --version need no settings and touch no database: these settings would
// fail every command, and the embedded database they name must never appear.
async function unusableEnv(): Promise<{ env: Record<string, string>; dataDir: string }> {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'tessera-cli-help-')), 'never-created');
  const env = await baseEnv({ PORT: 'abc', MASTER_KEY: 'c2hvcnQ=', DATA_DIR: dataDir });
  delete env.DATABASE_URL;
  return { env, dataDir };
}

const groups = [...new Set(COMMANDS.filter((c) => c.path.length > 1).map((c) => c.path[0]!))];

test(
  'every command answers --help and help with its usage on stdout, without settings or a database',
  { concurrency: true },
  async (t) => {
    const { env, dataDir } = await unusableEnv();
    const cases: [args: string[], usage: string, mentions: string[]][] = [
      ...COMMANDS.map((c): [string[], string, string[]] => [
        [...c.path, '--help'],
        `usage: tessera ${c.path.join(' ')}`,
        [c.summary.slice(1)],
      ]),
      [['help', 'keys', 'list'], 'usage: tessera keys list', []],
      [['keys', 'rotate', '-h'], 'usage: tessera keys rotate', []],
      // --help wins over whatever else is on the line, even what would be bad usage.
      [['users', 'create', '--no-such-option', '--help'], 'usage: tessera users create', []],
      ...groups.map((group): [string[], string, string[]] => [
        [group, '--help'],
        `usage: tessera ${group} <command>`,
        COMMANDS.filter((c) => c.path[0] === group).map((c) => c.path.join(' ')),
      ]),
      ...[['--help'], ['help']].map((args): [string[], string, string[]] => [
        args,
        'usage: tessera <command>',
        [...COMMANDS.map((c) => c.path.join(' ')), '--version'],
      ]),
    ];
    await Promise.all(
      cases.map(([args, usage, mentions]) =>
        t.test(args.join(' '), async () => {
          const result = await tessera(args, { env });
          assert.equal(result.code, 0, result.stderr);
          assert.equal(result.stderr, '');
          assert.ok(result.stdout.startsWith(`${usage}`), `starts with ${usage}: ${result.stdout}`);
          for (const text of mentions) assert.ok(result.stdout.includes(text), `mentions ${text}: ${result.stdout}`);
        }),
      ),
    );
    assert.ok(!existsSync(dataDir), 'no embedded database was created');
  },
);

test('the command table: each command says what it does, and help tells the read-only ones', () => {
  assert.ok(COMMANDS.length >= 10);
  const seen = new Set<string>();
  for (const c of COMMANDS) {
    const name = c.path.join(' ');
    assert.ok(!seen.has(name), `${name} is listed once`);
    seen.add(name);
    assert.ok(c.summary.length > 0 && c.details.length > 0, `${name} has a summary and details`);
    assert.equal(/It only reads/.test(c.details), c.readOnly === true, `${name}: its help says whether it only reads`);
  }
  assert.deepEqual(
    COMMANDS.filter((c) => c.readOnly).map((c) => c.path.join(' ')),
    ['keys list', 'clients list', 'clients show', 'audit verify', 'audit checkpoint'],
  );
});

test('--version prints the version in package.json', async () => {
  const { env, dataDir } = await unusableEnv();
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  const result = await tessera(['--version'], { env });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, `${version}\n`);
  assert.equal(result.stderr, '');
  assert.ok(!existsSync(dataDir));
});

// A command that takes an ID gets one that names nothing: the database is refused first.
const readOnly = COMMANDS.filter((c) => c.readOnly).map((c) => [
  ...c.path,
  ...(c.args === 'ID' ? ['AAAAAAAAAAAAAAAAAAAAAA'] : []),
]);

/** The tables of the public schema, each with its row count. */
async function tableCounts(db: Database): Promise<Record<string, number>> {
  const tables = await db.query<{ tablename: string }>(
    `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`,
  );
  const counts: Record<string, number> = {};
  for (const { tablename } of tables)
    counts[tablename] = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${tablename}"`))[0]!.n;
  return counts;
}

test('a read-only command on a database with nothing in it exits 1 with one line and creates nothing', async () => {
  const env = await emptyDatabaseEnv();
  if (env.DATA_DIR) {
    // An empty DATA_DIR, and one that does not exist: neither gets a file.
    for (const dataDir of [env.DATA_DIR, join(env.DATA_DIR, 'missing')]) {
      for (const args of readOnly) {
        const result = await tessera(args, { env: { ...env, DATA_DIR: dataDir } });
        assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`);
        assertOneLine(result.stderr, /^tessera: there is no database in .* \(DATA_DIR\): run tessera migrate first$/);
        assert.equal(result.stdout, '');
      }
    }
    assert.deepEqual(readdirSync(env.DATA_DIR), [], 'DATA_DIR stays empty');
    await withDb(env, async () => undefined); // now a database without tables, as on PostgreSQL
  }
  for (const args of readOnly) {
    const result = await tessera(args, { env });
    assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`);
    assertOneLine(result.stderr, /^tessera: the database has no Tessera tables yet: run tessera migrate first$/);
    assert.equal(result.stdout, '');
  }
  assert.deepEqual(await withDb(env, tableCounts), {}, 'no table was created');
});

test('a read-only command on a database behind this version refuses and leaves it behind', async () => {
  const env = await emptyDatabaseEnv();
  assert.equal((await tessera(['migrate'], { env })).code, 0);
  const last = migrations[migrations.length - 1]!.name;
  const before = await withDb(env, async (db) => {
    await db.query('DELETE FROM migrations WHERE name = $1', [last]);
    return tableCounts(db);
  });
  for (const args of readOnly) {
    const result = await tessera(args, { env });
    assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`);
    assertOneLine(
      result.stderr,
      /^tessera: the database is 1 migration behind this version of Tessera: run tessera migrate first$/,
    );
  }
  assert.deepEqual(await withDb(env, tableCounts), before, 'nothing was migrated or written');
  assert.equal(before.signing_keys, 0, 'and no key was made');
});

test('on a migrated database keys list lists the keys and changes nothing', async () => {
  const env = await baseEnv();
  assert.equal((await tessera(['migrate'], { env })).code, 0);
  const rotated = await tessera(['keys', 'rotate'], { env }); // makes the first keys too
  assert.equal(rotated.code, 0, rotated.stderr);
  const state = (db: Database) =>
    Promise.all([
      tableCounts(db),
      db.query('SELECT id, timestamp, name FROM migrations ORDER BY id'),
      db.query(
        'SELECT kid, purpose, state, activated_at, retired_at, expires_at, revoked_at, private_key_enc FROM signing_keys ORDER BY kid',
      ),
      db.query('SELECT max(id) AS last FROM security_events'),
    ]);
  const before = await withDb(env, state);
  const kids = (before[2] as { kid: string }[]).map((k) => k.kid);
  assert.ok(kids.length >= 3, 'an access key, a refresh key and the next access key');

  // It opens no secret: a master key it could not use does not matter.
  const list = await tessera(['keys', 'list'], { env: { ...env, MASTER_KEY: 'c2hvcnQ=' } });
  assert.equal(list.code, 0, list.stderr);
  assert.equal(list.stderr, '');
  const [header, ...rows] = list.stdout.trimEnd().split('\n');
  assert.match(header!, /^KID +PURPOSE +ALG +STATE +CREATED +ACTIVATES +RETIRED +EXPIRES +REVOKED$/);
  assert.deepEqual(rows.map((row) => row.split(/ +/)[0]).sort(), [...kids].sort());
  assert.ok(
    rows.some((row) => / next /.test(row)),
    'the rotation shows as a next key',
  );

  const verify = await tessera(['audit', 'verify'], { env });
  assert.equal(verify.code, 0, verify.stderr);
  assert.deepEqual(await withDb(env, state), before, 'no row, table, key or migration changed');
});

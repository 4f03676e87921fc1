// `tessera clients create` for apps, run for real against this file's database: public
// clients print no secret, the new flags reach the row, bad metadata is bad usage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cliEnv, tessera, withDb } from '../helpers/cli.js';

const SECRET = /^[A-Za-z0-9_-]{43,}$/;

interface Printed {
  client_id: string;
  client_secret?: string;
  type: string;
  grant_types: string[];
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  scopes: string[];
  first_party: boolean;
  can_introspect: boolean;
  require_pkce: boolean;
}

interface Row {
  type: string;
  secret_hash: string | null;
  grant_types: string[];
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  scopes: string[];
  first_party: boolean;
  can_introspect: boolean;
  require_pkce: boolean;
}

async function create(args: string[]): Promise<Printed> {
  const result = await tessera(['clients', 'create', ...args]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
  const lines = result.stdout.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, 'one line of JSON');
  assert.ok(!lines[0]!.includes('hash'), 'no hash is printed');
  return JSON.parse(lines[0]!) as Printed;
}

const stored = async (id: string) => {
  const env = await cliEnv();
  const [row] = await withDb(env, (db) => db.query<Row>('SELECT * FROM clients WHERE id = $1', [id]));
  assert.ok(row, 'stored');
  return row;
};

test('a public first-party app: no secret printed or stored, PKCE, the grants of an app', async () => {
  const printed = await create([
    '--name',
    'Mobile',
    '--scope',
    'openid profile offline_access',
    '--type',
    'public',
    '--redirect-uri',
    'com.example.app:/callback',
    '--redirect-uri',
    'http://127.0.0.1/callback',
    '--post-logout-redirect-uri',
    'com.example.app:/bye',
    '--first-party',
  ]);
  assert.equal(printed.client_secret, undefined, 'a public client has no secret');
  assert.ok(!('client_secret' in printed));
  assert.equal(printed.type, 'public');
  assert.deepEqual(printed.grant_types, ['authorization_code', 'refresh_token']);
  assert.deepEqual(printed.redirect_uris, ['com.example.app:/callback', 'http://127.0.0.1/callback']);
  assert.deepEqual(printed.post_logout_redirect_uris, ['com.example.app:/bye']);
  assert.deepEqual(printed.scopes, ['openid', 'profile', 'offline_access']);
  assert.equal(printed.first_party, true);
  assert.equal(printed.require_pkce, true);

  const row = await stored(printed.client_id);
  const {
    type,
    secret_hash,
    grant_types,
    redirect_uris,
    post_logout_redirect_uris,
    first_party,
    can_introspect,
    require_pkce,
  } = row;
  assert.deepEqual(
    {
      type,
      secret_hash,
      grant_types,
      redirect_uris,
      post_logout_redirect_uris,
      first_party,
      can_introspect,
      require_pkce,
    },
    {
      type: 'public',
      secret_hash: null,
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: ['com.example.app:/callback', 'http://127.0.0.1/callback'],
      post_logout_redirect_uris: ['com.example.app:/bye'],
      first_party: true,
      can_introspect: false,
      require_pkce: true,
    },
  );
  const [event] = await withDb(await cliEnv(), (db) =>
    db.query<{ actor: string; detail: Record<string, unknown> }>(
      `SELECT actor, detail FROM security_events WHERE type = 'client_created' AND detail->>'client_id' = $1`,
      [printed.client_id],
    ),
  );
  assert.equal(event?.actor, 'cli');
  assert.deepEqual(event?.detail, { client_id: printed.client_id, name: 'Mobile', type: 'public', by: 'cli' });
});

test('a confidential app with named grants, PKCE off and introspection: its secret once', async () => {
  const printed = await create([
    '--name',
    'Portal',
    '--scope',
    'openid email',
    '--type',
    'confidential',
    '--grant',
    'authorization_code',
    '--grant',
    'client_credentials',
    '--redirect-uri',
    'https://portal.example/cb',
    '--introspect',
    '--no-require-pkce',
  ]);
  assert.match(printed.client_secret ?? '', SECRET);
  assert.deepEqual(printed.grant_types, ['authorization_code', 'client_credentials']);
  assert.equal(printed.can_introspect, true);
  assert.equal(printed.require_pkce, false);
  assert.equal(printed.first_party, false);
  const row = await stored(printed.client_id);
  assert.equal(row.type, 'confidential');
  assert.match(row.secret_hash ?? '', /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(row.secret_hash, printed.client_secret);
  assert.equal(row.require_pkce, false);
});

test('a redirect URI alone makes an app; without one, a client_credentials client as before', async () => {
  const app = await create(['--name', 'Web', '--scope', 'openid', '--redirect-uri', 'https://web.example/cb']);
  assert.equal(app.type, 'confidential');
  assert.match(app.client_secret ?? '', SECRET);
  assert.deepEqual(app.grant_types, ['authorization_code', 'refresh_token']);
  const machine = await create(['--name', 'Batch', '--scope', 'a']);
  assert.deepEqual(machine.grant_types, ['client_credentials']);
  assert.deepEqual(machine.redirect_uris, []);
});

// Bad usage stops before the database is opened, so these run side by side.
test('bad metadata is bad usage: exit 2 with the usage text, nothing printed', { concurrency: true }, async (t) => {
  const base = ['clients', 'create', '--name', 'N', '--scope', 'openid'];
  const cases: [string, string[], RegExp][] = [
    ['an unknown type', [...base, '--type', 'secret'], /--type must be/],
    ['an unknown grant', [...base, '--grant', 'password'], /--grant must be one of/],
    ['a public client without redirect URIs', [...base, '--type', 'public'], /redirect URI/],
    [
      'a public client that introspects',
      [...base, '--type', 'public', '--redirect-uri', 'https://a.example/cb', '--introspect'],
      /may not introspect/,
    ],
    [
      'a public client without PKCE',
      [...base, '--type', 'public', '--redirect-uri', 'https://a.example/cb', '--no-require-pkce'],
      /always uses PKCE/,
    ],
    [
      'a public client with client_credentials',
      [...base, '--type', 'public', '--grant', 'client_credentials', '--redirect-uri', 'https://a.example/cb'],
      /client_credentials/,
    ],
    ['a javascript: redirect URI', [...base, '--redirect-uri', 'javascript:alert(1)'], /scheme javascript:/],
    ['a redirect URI with a fragment', [...base, '--redirect-uri', 'https://a.example/cb#x'], /fragment/],
    ['a wildcard redirect URI', [...base, '--redirect-uri', 'https://*.a.example/cb'], /wildcard/],
    [
      'redirect URIs on a client_credentials client',
      [...base, '--grant', 'client_credentials', '--post-logout-redirect-uri', 'https://a.example/bye'],
      /only for clients/,
    ],
    ['refresh_token alone', [...base, '--grant', 'refresh_token'], /needs the authorization_code grant/],
    ['a value for a flag', [...base, '--first-party=yes'], /first-party/],
    ['a malformed scope', ['clients', 'create', '--name', 'N', '--scope', 'a"b'], /scope token/],
  ];
  await Promise.all(
    cases.map(([what, args, reason]) =>
      t.test(what, async () => {
        const result = await tessera(args);
        assert.equal(result.code, 2, `${what}: ${result.stderr}`);
        assert.match(result.stderr, /^tessera: .+\nusage: tessera clients create/);
        assert.match(result.stderr.split('\n')[0]!, reason);
        assert.equal(result.stdout, '');
      }),
    ),
  );
});

test('--help lists every flag', async () => {
  const result = await tessera(['clients', 'create', '--help']);
  assert.equal(result.code, 0, result.stderr);
  for (const flag of [
    '--name',
    '--scope',
    '--type public|confidential',
    '--grant G',
    '--redirect-uri URI',
    '--post-logout-redirect-uri URI',
    '--first-party',
    '--introspect',
    '--no-require-pkce',
  ])
    assert.ok(result.stdout.includes(flag), `mentions ${flag}`);
});

// `tessera clients list|show|update|rotate-secret|disable|enable|delete`, run for real as
// child processes against this file's database: what they print, what they change in the
// rows, their audit events (actor cli), and their exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cliEnv, tessera, withDb } from '../helpers/cli.js';

interface Printed {
  client_id: string;
  client_secret?: string;
  name: string;
  scopes: string[];
  grant_types: string[];
  redirect_uris: string[];
  disabled: boolean;
  previous_secret_expires_at: string | null;
  secret_rotated_at: string | null;
}

async function json(args: string[]): Promise<Printed> {
  const result = await tessera(args);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
  const lines = result.stdout.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, 'one line of JSON');
  assert.ok(!/hash/.test(lines[0]!), 'no hash is printed');
  return JSON.parse(lines[0]!) as Printed;
}

const query = async <T>(sql: string, params: unknown[] = []) =>
  withDb(await cliEnv(), (db) => db.query<T & Record<string, unknown>>(sql, params));

test('list, show, update, rotate-secret, disable, enable and delete a client', async () => {
  const created = await json(['clients', 'create', '--name', 'Nightly export', '--scope', 'reports:read a:b']);
  const id = created.client_id;
  // A name from before names were checked, with a control character in it.
  const other = await json(['clients', 'create', '--name', 'Old app', '--scope', 'a']);
  await query(`UPDATE clients SET name = 'Old' || chr(7) || 'app' WHERE id = $1`, [other.client_id]);

  const list = await tessera(['clients', 'list']);
  assert.equal(list.code, 0, list.stderr);
  const lines = list.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^CLIENT_ID\s+TYPE\s+STATE\s+GRANTS\s+CREATED\s+NAME$/);
  const line = lines.find((l) => l.startsWith(id));
  assert.ok(line, 'the client is listed');
  assert.match(line, /\sconfidential\s+enabled\s+client_credentials\s+\S+\s+Nightly export$/);
  assert.ok(!list.stdout.includes(created.client_secret!), 'no secret in the list');
  assert.ok(!list.stdout.includes('\u0007'), 'no control characters reach the terminal');
  assert.ok(list.stdout.includes(`${other.client_id}`) && list.stdout.includes('Old?app'));

  const shown = await json(['clients', 'show', id]);
  assert.equal(shown.client_id, id);
  assert.equal(shown.name, 'Nightly export');
  assert.ok(!('client_secret' in shown));

  const updated = await json(['clients', 'update', id, '--name', 'Hourly export', '--scope', 'reports:read a:b c:d']);
  assert.equal(updated.name, 'Hourly export');
  assert.deepEqual(updated.scopes, ['reports:read', 'a:b', 'c:d']);

  const rotated = await json(['clients', 'rotate-secret', id]);
  assert.match(String(rotated.client_secret), /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(rotated.client_secret, created.client_secret);
  assert.ok(rotated.previous_secret_expires_at, 'the default overlap');
  assert.ok(Date.parse(rotated.previous_secret_expires_at) > Date.now() + 86_000_000);

  const disabled = await json(['clients', 'disable', id]);
  assert.equal(disabled.disabled, true);
  const [revocation] = await query<{ kind: string }>(
    `SELECT kind FROM revocations WHERE kind = 'client' AND subject = $1`,
    [id],
  );
  assert.ok(revocation, 'the client is in the revocation feed');
  const enabled = await json(['clients', 'enable', id]);
  assert.equal(enabled.disabled, false);

  const deleted = await tessera(['clients', 'delete', id]);
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.deepEqual(JSON.parse(deleted.stdout), { client_id: id, deleted: true });
  assert.equal((await query('SELECT 1 FROM clients WHERE id = $1', [id])).length, 0);

  const events = await query<{ type: string; actor: string; detail: Record<string, unknown> }>(
    `SELECT type, actor, detail FROM security_events WHERE detail->>'client_id' = $1 ORDER BY id`,
    [id],
  );
  assert.deepEqual(
    events.map((e) => e.type),
    [
      'client_created',
      'client_updated',
      'client_secret_rotated',
      'client_disabled',
      'client_enabled',
      'client_deleted',
    ],
  );
  for (const e of events) {
    assert.equal(e.actor, 'cli', e.type);
    const detail = JSON.stringify(e.detail);
    assert.ok(!detail.includes(created.client_secret!) && !detail.includes(rotated.client_secret!), e.type);
  }
  assert.deepEqual(events[1]!.detail.changed, ['name', 'scopes']);
});

test("an id beginning with '-' is an ID, not an option", async () => {
  // Ids made before they were kept from beginning with '-' are still base64url.
  const { client_id: made } = await json(['clients', 'create', '--name', 'dash', '--scope', 'a']);
  const id = `-${made.slice(1)}`;
  await query('UPDATE clients SET id = $1 WHERE id = $2', [id, made]);
  assert.equal((await json(['clients', 'show', id])).client_id, id);
  assert.equal((await json(['clients', 'update', id, '--name', 'dashed'])).name, 'dashed');
  const missing = await tessera(['clients', 'update', '--name', 'x']);
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /^tessera: clients update takes an ID first/);
});

test('exit codes: 1 for an unknown client, 2 for bad usage or refused metadata', async () => {
  for (const args of [
    ['clients', 'show', 'AAAAAAAAAAAAAAAAAAAAAA'],
    ['clients', 'disable', 'AAAAAAAAAAAAAAAAAAAAAA'],
    ['clients', 'delete', 'tessera'],
    ['clients', 'rotate-secret', 'AAAAAAAAAAAAAAAAAAAAAA'],
  ]) {
    const result = await tessera(args);
    assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, /^tessera: no client with id \S+\n$/);
    assert.equal(result.stdout, '');
  }
  const { client_id: id } = await json(['clients', 'create', '--name', 'machine', '--scope', 'a']);
  for (const args of [
    ['clients', 'show'],
    ['clients', 'show', id, 'extra'],
    ['clients', 'disable', 'bad id'],
    ['clients', 'update', id],
    ['clients', 'update', id, '--type', 'public'],
    ['clients', 'update', id, '--grant', 'password'],
    ['clients', 'update', id, '--scope', ' '],
    // The merged result is checked: authorization_code needs a redirect URI.
    ['clients', 'update', id, '--grant', 'authorization_code'],
    ['clients', 'list', 'extra'],
  ]) {
    const result = await tessera(args);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, /^tessera: /);
  }
  const [row] = await query<{ grant_types: string[] }>('SELECT grant_types FROM clients WHERE id = $1', [id]);
  assert.deepEqual(row?.grant_types, ['client_credentials'], 'nothing changed');
  // A public client has no secret to rotate.
  const spa = await json([
    'clients',
    'create',
    '--name',
    'spa',
    '--type',
    'public',
    '--scope',
    'openid',
    '--redirect-uri',
    'https://spa.example/cb',
  ]);
  const rotate = await tessera(['clients', 'rotate-secret', spa.client_id]);
  assert.equal(rotate.code, 2, rotate.stderr);
  assert.equal(rotate.stdout, '');
});

test('rotate-secret with CLIENT_SECRET_OVERLAP=0 drops the old secret at once', async () => {
  const { client_id: id } = await json(['clients', 'create', '--name', 'machine', '--scope', 'a']);
  const result = await tessera(['clients', 'rotate-secret', id], { env: await cliEnv({ CLIENT_SECRET_OVERLAP: '0' }) });
  assert.equal(result.code, 0, result.stderr);
  const printed = JSON.parse(result.stdout) as Printed;
  assert.equal(printed.previous_secret_expires_at, null);
  const [row] = await query<{ previous_secret_hash: string | null }>(
    'SELECT previous_secret_hash FROM clients WHERE id = $1',
    [id],
  );
  assert.equal(row?.previous_secret_hash, null);
});

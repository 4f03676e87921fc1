// ASVS 2.1.2: the README's table of values that are only right together ("Rules across
// fields", under Client life cycle) matches the code: every combination it names is
// refused where the values come in, and the table names no rule the code lacks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { checkClientMetadata, type ClientMetadataInput } from '../../src/domain/clients/client-metadata.js';
import { section } from './readme-settings.js';

const base: ClientMetadataInput = { name: 'App', scopes: ['openid'] };
const code = { grantTypes: ['authorization_code'], redirectUris: ['https://app.example.test/cb'] };

/** README combination cell → a value that breaks it. */
const CASES: Record<string, () => boolean> = {
  '`type: public` with `client_credentials`': () =>
    refusedClient({ type: 'public', grantTypes: ['client_credentials'] }),
  '`type: public` with `can_introspect`': () => refusedClient({ type: 'public', ...code, canIntrospect: true }),
  '`type: public` with `require_pkce: false`': () => refusedClient({ type: 'public', ...code, requirePkce: false }),
  '`refresh_token` without `authorization_code`': () =>
    refusedClient({ grantTypes: ['client_credentials', 'refresh_token'] }),
  '`authorization_code` without `redirect_uris`': () => refusedClient({ grantTypes: ['authorization_code'] }),
  '`redirect_uris` without `authorization_code`': () =>
    refusedClient({ grantTypes: ['client_credentials'], redirectUris: ['https://app.example.test/cb'] }),
  '`REFRESH_IDLE_TTL` above `REFRESH_TOKEN_TTL`': () =>
    refusedSettings({ REFRESH_TOKEN_TTL: '3600', REFRESH_IDLE_TTL: '7200' }, 'REFRESH_IDLE_TTL'),
  '`KEY_PUBLISH_AHEAD` below `JWKS_MAX_AGE`': () =>
    refusedSettings({ JWKS_MAX_AGE: '600', KEY_PUBLISH_AHEAD: '300' }, 'KEY_PUBLISH_AHEAD'),
  '`KEY_ROTATION_INTERVAL` not above `KEY_PUBLISH_AHEAD`': () =>
    refusedSettings({ KEY_PUBLISH_AHEAD: '600', KEY_ROTATION_INTERVAL: '600' }, 'KEY_ROTATION_INTERVAL'),
  '`MIGRATION_DATABASE_URL` without `DATABASE_URL`': () =>
    refusedSettings({ MIGRATION_DATABASE_URL: 'postgres://owner@db/tessera' }, 'MIGRATION_DATABASE_URL'),
};

function refusedClient(input: Partial<ClientMetadataInput>): boolean {
  // The same values without the breaking part pass: the refusal is the combination's.
  return !checkClientMetadata({ ...base, ...input }, { production: false }).ok;
}

function refusedSettings(env: Record<string, string>, variable: string): boolean {
  try {
    loadConfig({ DATA_DIR: 'memory://rules', ...env });
    return false;
  } catch (error) {
    return error instanceof ConfigError && error.variable === variable;
  }
}

test('the README rules across fields are the combinations the code refuses', () => {
  const rows = section('Client life cycle')
    .split('\n')
    .filter((line) => line.startsWith('| `') || line.startsWith('| `type'))
    .map((line) => line.split(' | ')[0]!.slice(2));
  assert.deepEqual(rows.sort(), Object.keys(CASES).sort(), 'the table and the cases name the same combinations');
  for (const [combination, refused] of Object.entries(CASES)) assert.ok(refused(), `${combination} is refused`);
  // Each part alone is fine: the refusals come from the combinations.
  assert.ok(checkClientMetadata({ ...base, type: 'public', ...code }, { production: false }).ok);
  assert.ok(checkClientMetadata({ ...base, grantTypes: ['client_credentials'] }, { production: false }).ok);
  assert.doesNotThrow(() =>
    loadConfig({ DATA_DIR: 'memory://rules', REFRESH_TOKEN_TTL: '7200', REFRESH_IDLE_TTL: '3600' }),
  );
});

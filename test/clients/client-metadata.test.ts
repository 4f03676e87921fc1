// Client metadata as a pure function: defaults, what each type may have, and which
// redirect URIs may be registered, in production and outside it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkClientMetadata,
  checkRedirectUri,
  type ClientMetadata,
  type ClientMetadataInput,
} from '../../src/domain/clients/client-metadata.js';
import { newClientId } from '../../src/clients/clients.js';

const PRODUCTION = { production: true };
const DEVELOPMENT = { production: false };

function accepted(input: ClientMetadataInput, settings = PRODUCTION): ClientMetadata {
  const checked = checkClientMetadata(input, settings);
  assert.ok(checked.ok, `accepted: ${JSON.stringify(input)}: ${checked.ok ? '' : checked.description}`);
  return checked.metadata;
}

function refused(input: ClientMetadataInput, pattern: RegExp, settings = PRODUCTION, error = 'invalid_request'): void {
  const checked = checkClientMetadata(input, settings);
  assert.ok(!checked.ok, `refused: ${JSON.stringify(input)}`);
  assert.equal(checked.error, error, checked.description);
  assert.match(checked.description, pattern);
}

const app = { name: 'Web app', scopes: ['openid', 'profile', 'email', 'offline_access'] };
const web = 'https://app.example/callback';

describe('defaults', () => {
  it('a client with no redirect URIs is a confidential client_credentials client, as before', () => {
    assert.deepEqual(accepted({ name: '  Reports  ', scopes: ['reports:read', 'reports:read'] }), {
      name: 'Reports',
      type: 'confidential',
      grantTypes: ['client_credentials'],
      redirectUris: [],
      postLogoutRedirectUris: [],
      scopes: ['reports:read'],
      firstParty: false,
      canIntrospect: false,
      requirePkce: true,
    });
  });

  it('redirect URIs make an app: authorization_code and refresh_token, PKCE required', () => {
    const m = accepted({ ...app, redirectUris: [web, web], postLogoutRedirectUris: ['https://app.example/bye'] });
    assert.deepEqual(m.grantTypes, ['authorization_code', 'refresh_token']);
    assert.deepEqual(m.redirectUris, [web], 'duplicates dropped');
    assert.deepEqual(m.postLogoutRedirectUris, ['https://app.example/bye']);
    assert.deepEqual(m.scopes, ['openid', 'profile', 'email', 'offline_access'], 'the OpenID scopes are ordinary');
    assert.equal(m.type, 'confidential');
    assert.equal(m.requirePkce, true);
  });

  it('a public client is an app too, always with PKCE and never with a secret-based right', () => {
    const m = accepted({ ...app, type: 'public', redirectUris: ['com.example.app:/callback'] });
    assert.equal(m.type, 'public');
    assert.deepEqual(m.grantTypes, ['authorization_code', 'refresh_token']);
    assert.equal(m.requirePkce, true);
    assert.equal(m.canIntrospect, false);
    assert.equal(accepted({ ...app, type: 'public', redirectUris: [web], requirePkce: true }).requirePkce, true);
  });

  it('keeps what was asked: first party, introspection, PKCE off for a confidential client, several grants', () => {
    const m = accepted({
      ...app,
      redirectUris: [web],
      grantTypes: ['authorization_code', 'client_credentials'],
      firstParty: true,
      canIntrospect: true,
      requirePkce: false,
    });
    assert.deepEqual(m.grantTypes, ['authorization_code', 'client_credentials']);
    assert.equal(m.firstParty, true);
    assert.equal(m.canIntrospect, true);
    assert.equal(m.requirePkce, false);
    assert.equal(accepted({ ...app, type: 'public', redirectUris: [web], firstParty: true }).firstParty, true);
  });
});

describe('refused metadata', () => {
  it('names: empty, too long, with control characters', () => {
    for (const name of ['', '   ', 'x'.repeat(101), 'a\nb', 'a\u0000b'])
      refused({ name, scopes: ['a'] }, /name is invalid/);
    assert.equal(accepted({ name: 'x'.repeat(100), scopes: [] }).name.length, 100);
  });

  it('an unknown type', () => {
    refused({ name: 'x', type: 'secret', scopes: ['a'] }, /confidential or public/);
  });

  it('grant types: unknown ones, none, refresh_token alone, authorization_code without a redirect URI', () => {
    for (const grant of ['password', 'implicit', 'urn:ietf:params:oauth:grant-type:device_code', ''])
      refused({ name: 'x', scopes: ['a'], grantTypes: [grant] }, /Unsupported grant type/);
    refused({ name: 'x', scopes: ['a'], grantTypes: [] }, /at least one grant type/);
    refused({ name: 'x', scopes: ['a'], grantTypes: ['refresh_token'] }, /needs the authorization_code grant/);
    refused(
      { name: 'x', scopes: ['a'], grantTypes: ['client_credentials', 'refresh_token'] },
      /needs the authorization_code grant/,
    );
    refused({ name: 'x', scopes: ['a'], grantTypes: ['authorization_code'] }, /needs at least one redirect URI/);
  });

  it('redirect URIs on a client that cannot use them', () => {
    refused({ name: 'x', scopes: ['a'], grantTypes: ['client_credentials'], redirectUris: [web] }, /only for clients/);
    refused({ name: 'x', scopes: ['a'], postLogoutRedirectUris: [web] }, /only for clients/);
  });

  it('a public client with client_credentials, introspection, or PKCE switched off', () => {
    const pub = { ...app, type: 'public', redirectUris: [web] };
    refused({ ...pub, grantTypes: ['authorization_code', 'client_credentials'] }, /public client may not use/);
    refused({ ...pub, grantTypes: ['client_credentials'] }, /public client may not use|needs/);
    refused({ ...pub, canIntrospect: true }, /public client may not introspect/);
    refused({ ...pub, requirePkce: false }, /always uses PKCE/);
    refused({ name: 'x', type: 'public', scopes: ['a'] }, /needs at least one redirect URI/);
  });

  it('more than 20 URIs of either kind', () => {
    const many = Array.from({ length: 21 }, (_, i) => `https://app.example/cb/${i}`);
    refused({ ...app, redirectUris: many }, /At most 20 redirect_uris/);
    refused({ ...app, redirectUris: [web], postLogoutRedirectUris: many }, /At most 20 post_logout_redirect_uris/);
    assert.equal(accepted({ ...app, redirectUris: many.slice(0, 20) }).redirectUris.length, 20);
  });

  it('a bad URI is named by its field and position', () => {
    refused({ ...app, redirectUris: [web, 'https://app.example/#x'] }, /^redirect_uris\[1\] has a fragment/);
    refused(
      { ...app, redirectUris: [web], postLogoutRedirectUris: ['javascript:alert(1)'] },
      /^post_logout_redirect_uris\[0\] uses the scheme javascript:/,
    );
  });

  it('scopes that are no scope tokens are invalid_scope', () => {
    for (const scope of ['a "b"', 'a b', '', 'x'.repeat(129), 'caf\u00e9', 'a\\b'])
      refused({ name: 'x', scopes: [scope] }, /not a valid scope token/, PRODUCTION, 'invalid_scope');
    refused({ name: 'x', scopes: Array.from({ length: 101 }, (_, i) => `s${i}`) }, /At most 100 scopes/);
  });
});

describe('redirect URIs', () => {
  const allowedEverywhere = [
    'https://app.example/callback',
    'https://app.example:8443/cb?tenant=a&x=%20y',
    'https://[2001:db8::1]/cb',
    'https://xn--bcher-kva.example/cb',
    'http://127.0.0.1/callback',
    'http://127.0.0.1:51004/callback',
    'http://[::1]:8080/cb',
    'http://localhost:3000/callback',
    'HTTP://LOCALHOST/cb',
    'com.example.app:/oauth2redirect/example-provider',
    'com.example.app://callback',
    'io.github.someone.app:callback',
  ];
  const onlyOutsideProduction = [
    'http://app.example/callback',
    'http://192.168.1.10:8080/cb',
    'http://10.0.0.1/cb',
    'http://localhost.example/cb',
    'http://127.0.0.1.example/cb',
  ];
  const neverAllowed: [string, RegExp][] = [
    ['', /is empty/],
    [`https://app.example/${'a'.repeat(2048)}`, /longer than 2048/],
    ['https://*.app.example/cb', /wildcard/],
    ['https://app.example/*', /wildcard/],
    ['https://app.example/cb#', /fragment/],
    ['https://app.example/cb#frag', /fragment/],
    ['https://user@app.example/cb', /user info/],
    ['https://user:pass@app.example/cb', /user info/],
    ['https://app.example@evil.example/cb', /user info/],
    ['com.example.app://user@host/cb', /user info/],
    ['https://app.example/c b', /characters/],
    [' https://app.example/cb', /characters/],
    ['https://app.example/cb\n', /characters/],
    ['https://app.example/cb\t', /characters/],
    ['https://app.example\\@evil.example/', /characters/],
    ['https://app.example/caf\u00e9', /characters/],
    ['https://app.example/%zz', /percent/],
    ['/callback', /absolute/],
    ['//app.example/callback', /absolute/],
    ['app.example/callback', /absolute/],
    ['https:app.example/callback', /no host/],
    ['https:/app.example/callback', /no host/],
    ['https://', /valid URI|no host/],
    ['https://app.example:99999/cb', /valid URI/],
    ['javascript:alert(1)', /scheme javascript:/],
    ['JavaScript://%0aalert(1)', /scheme javascript:/],
    ['data:text/html,hi', /scheme data:/],
    ['file:///etc/passwd', /scheme file:/],
    ['vbscript:msgbox(1)', /scheme vbscript:/],
    ['blob:https://app.example/uuid', /scheme blob:/],
    ['ftp://app.example/cb', /scheme ftp:/],
    ['ws://localhost/cb', /scheme ws:/],
    ['myapp:/callback', /scheme myapp:/],
    ['urn:ietf:wg:oauth:2.0:oob', /scheme urn:/],
    ['com.example.app:', /nothing after its scheme/],
  ];

  it('https, loopback http and private-use schemes are allowed in production', () => {
    for (const uri of allowedEverywhere) assert.equal(checkRedirectUri(uri, PRODUCTION), undefined, uri);
  });

  it('http to any other host is allowed only outside production', () => {
    for (const uri of onlyOutsideProduction) {
      assert.equal(checkRedirectUri(uri, DEVELOPMENT), undefined, uri);
      assert.match(checkRedirectUri(uri, PRODUCTION) ?? '', /not loopback/, uri);
    }
  });

  it('the rest is refused everywhere, each with its reason', () => {
    for (const [uri, reason] of neverAllowed) {
      for (const settings of [PRODUCTION, DEVELOPMENT])
        assert.match(checkRedirectUri(uri, settings) ?? 'accepted', reason, JSON.stringify(uri));
    }
  });

  it('exactly 2048 characters is the longest', () => {
    const base = 'https://app.example/';
    assert.equal(checkRedirectUri(base + 'a'.repeat(2048 - base.length), PRODUCTION), undefined);
    assert.match(checkRedirectUri(base + 'a'.repeat(2049 - base.length), PRODUCTION) ?? '', /longer/);
  });

  it('stored as given: no normalization', () => {
    const uri = 'https://APP.example:443/a/../cb?x=1';
    assert.deepEqual(accepted({ ...app, redirectUris: [uri] }).redirectUris, [uri]);
  });
});

describe('client ids', () => {
  it("are 128 random bits in base64url and never begin with '-' (a command line would take one for an option)", () => {
    const ids = new Set<string>();
    // One id in 64 would begin with '-' if nothing kept it out.
    for (let i = 0; i < 2000; i++) {
      const id = newClientId();
      assert.match(id, /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
      ids.add(id);
    }
    assert.equal(ids.size, 2000);
  });
});

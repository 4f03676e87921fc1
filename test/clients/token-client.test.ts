// authenticateTokenClient, the client at the token and revocation endpoints: a
// confidential client authenticates, a public client names itself with client_id and has
// no secret to present, Tessera's own first-party client is no client at all.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyRequest } from 'fastify';
import { suiteApp } from '../routes/suite-app.js';
import { basic } from '../access/helpers.js';
import {
  authenticateTokenClient,
  createClient,
  FIRST_PARTY_CLIENT_ID,
  type ClientRow,
} from '../../src/clients/clients.js';
import { TesseraError } from '../../src/errors/errors.js';

const request = (headers: Record<string, string> = {}) => ({ headers }) as unknown as FastifyRequest;

function refusedAs(code: string, challenge?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof TesseraError, String(e));
    assert.equal(e.code, code);
    if (code === 'invalid_client') assert.equal(e.status, 401);
    if (challenge) assert.match(e.headers['WWW-Authenticate'] ?? '', challenge);
    return true;
  };
}

describe('authenticateTokenClient', () => {
  const built = suiteApp();
  const db = () => built().services.db;
  let confidential: { client: ClientRow; secret: string };
  let publicApp: ClientRow;
  let disabledApp: ClientRow;

  before(async () => {
    const app = { scopes: ['openid'], redirectUris: ['https://app.example/cb'] };
    confidential = await createClient(db(), { name: 'web', ...app });
    publicApp = (await createClient(db(), { name: 'spa', type: 'public', ...app })).client;
    disabledApp = (await createClient(db(), { name: 'old spa', type: 'public', ...app })).client;
    await db().query('UPDATE clients SET disabled = true WHERE id = $1', [disabledApp.id]);
  });

  const authenticate = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    authenticateTokenClient(db(), request(headers), body);

  it('a confidential client with client_secret_basic or client_secret_post', async () => {
    const { client, secret } = confidential;
    assert.equal((await authenticate({}, basic(client.id, secret)))?.id, client.id);
    assert.equal((await authenticate({ client_id: client.id }, basic(client.id, secret)))?.id, client.id);
    assert.equal((await authenticate({ client_id: client.id, client_secret: secret }))?.id, client.id);
  });

  it('a wrong secret is invalid_client, with the challenge Basic asks for', async () => {
    const { client, secret } = confidential;
    await assert.rejects(authenticate({}, basic(client.id, `${secret}x`)), refusedAs('invalid_client', /^Basic /));
    await assert.rejects(
      authenticate({ client_id: client.id, client_secret: 'wrong' }),
      refusedAs('invalid_client', /^Basic realm="tessera"$/),
    );
  });

  it('a public client with no credentials: client_id names it', async () => {
    const found = await authenticate({ client_id: publicApp.id });
    assert.equal(found?.id, publicApp.id);
    assert.equal(found?.type, 'public');
  });

  it('a public client presenting a secret fails: it has none', async () => {
    for (const secret of ['', 'anything', confidential.secret]) {
      await assert.rejects(authenticate({}, basic(publicApp.id, secret)), refusedAs('invalid_client'));
      if (secret)
        await assert.rejects(
          authenticate({ client_id: publicApp.id, client_secret: secret }),
          refusedAs('invalid_client'),
        );
    }
  });

  it('a confidential client without credentials is invalid_client with a Basic challenge', async () => {
    await assert.rejects(
      authenticate({ client_id: confidential.client.id }),
      refusedAs('invalid_client', /^Basic realm="tessera"$/),
    );
  });

  it('an unknown, malformed or disabled client_id is invalid_client', async () => {
    for (const id of ['unknown-client-0000000000', 'x', '', 'a'.repeat(200), disabledApp.id])
      await assert.rejects(authenticate({ client_id: id }), refusedAs('invalid_client', /^Basic realm="tessera"$/));
    await assert.rejects(authenticate({ client_id: ['a', 'b'] }), refusedAs('invalid_client'));
  });

  it("no client_id, or Tessera's own, is the first-party client: undefined", async () => {
    assert.equal(await authenticate({}), undefined);
    assert.equal(await authenticate({ client_id: FIRST_PARTY_CLIENT_ID }), undefined);
    assert.equal(await authenticate({ grant_type: 'refresh_token', refresh_token: 'x' }), undefined);
  });

  it('two authentication methods at once, or a client_id differing from Basic, are invalid_request', async () => {
    const { client, secret } = confidential;
    await assert.rejects(
      authenticate({ client_id: client.id, client_secret: secret }, basic(client.id, secret)),
      refusedAs('invalid_request'),
    );
    await assert.rejects(
      authenticate({ client_id: publicApp.id }, basic(client.id, secret)),
      refusedAs('invalid_request'),
    );
  });
});

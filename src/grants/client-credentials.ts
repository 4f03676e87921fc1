// The client_credentials grant (RFC 6749 4.4): a confidential client gets an access
// token for itself; no refresh token.
import type { Services } from '../services.js';
import type { ClientRow } from '../db/repositories/clients.js';
import { TesseraError } from '../errors/errors.js';
import { resolveAudience, resolveScope } from '../domain/tokens/grant-request.js';
import type { TokenResponseBody } from './session-tokens.js';

export async function clientCredentialsGrant(services: Services, client: ClientRow, p: { scope: string | undefined; resource: string | undefined }): Promise<TokenResponseBody> {
  if (!client.grant_types.includes('client_credentials')) throw new TesseraError('unauthorized_client', { detail: 'grant not allowed for client' });
  // Scopes are limited to the client's own.
  const scope = resolveScope(p.scope, client.scopes);
  if (scope === undefined || scope === '') throw new TesseraError('invalid_scope');
  const audience = resolveAudience(p.resource, services.config);
  if (audience === undefined) throw new TesseraError('invalid_target');
  const access = await services.tokens.issueAccessToken({ sub: client.id, aud: audience, clientId: client.id, scope });
  return { access_token: access.token, token_type: 'Bearer', expires_in: access.expiresIn, scope };
}

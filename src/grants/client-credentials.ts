// The client_credentials grant (RFC 6749 4.4): a confidential client gets an access
// token for itself; no refresh token.
import type { Config } from '../config/config.js';
import type { ClientRow } from '../clients/clients.js';
import { TesseraError } from '../errors/errors.js';
import { resolveAudience, resolveScope } from '../domain/tokens/grant-request.js';
import type { TokenService } from '../tokens/token-service.js';
import type { TokenResponseBody } from './token-pair.js';

export interface ClientCredentialsDeps {
  tokens: TokenService;
  config: Pick<Config, 'defaultAudience' | 'audiences'>;
}

/** Only an authenticated client registered for this grant may use it. */
export function mayUseClientCredentials(client: ClientRow | undefined): 'yes' | 'no_client' | 'not_registered' {
  if (!client) return 'no_client';
  return client.grant_types.includes('client_credentials') ? 'yes' : 'not_registered';
}

export async function clientCredentialsGrant(
  deps: ClientCredentialsDeps,
  client: ClientRow,
  p: { scope: string | undefined; resource: string | undefined },
): Promise<TokenResponseBody> {
  // Scopes are limited to the client's own.
  const scope = resolveScope(p.scope, client.scopes);
  if (scope === undefined || scope === '') throw new TesseraError('invalid_scope');
  const audience = resolveAudience(p.resource, deps.config);
  if (audience === undefined) throw new TesseraError('invalid_target');
  const access = await deps.tokens.issueAccessToken({ sub: client.id, aud: audience, clientId: client.id, scope });
  return { access_token: access.token, token_type: 'Bearer', expires_in: access.expiresIn, scope };
}

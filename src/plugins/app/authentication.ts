// Bearer authentication for our own endpoints (RFC 6750): app.authenticate checks the
// access token, its session and its user, and leaves the result on request.principal.
import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { TesseraError } from '../../errors/errors.js';
import { checkUserToken, type UserRow } from '../../sessions/access-tokens.js';
import type { AccessClaims } from '../../tokens/token-service.js';

export interface Auth {
  claims: AccessClaims;
  user: UserRow;
}

declare module 'fastify' {
  interface FastifyInstance {
    authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  }
  interface FastifyRequest {
    /** Who called: set by app.authenticate (named apart from the verifier kit's request.auth). */
    principal: Auth | null;
  }
}

const bearerChallenge = (realm: string, error?: string) =>
  error ? `Bearer realm="${realm}", error="${error}"` : `Bearer realm="${realm}"`;

export default fp(
  async (app) => {
    const { config } = app;
    const audiences = [...new Set([config.issuer, config.defaultAudience])];
    app.decorateRequest('principal', null);

    app.decorate('authenticate', async (request: FastifyRequest) => {
      const header = request.headers.authorization;
      const match = typeof header === 'string' ? /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header) : null;
      if (!match) {
        throw new TesseraError('invalid_token', {
          detail: 'no bearer token',
          headers: { 'WWW-Authenticate': bearerChallenge(config.issuer) },
        });
      }
      const refuse = (detail: string) =>
        new TesseraError('invalid_token', {
          detail,
          headers: { 'WWW-Authenticate': bearerChallenge(config.issuer, 'invalid_token') },
        });
      let claims: AccessClaims;
      try {
        claims = await app.tokens.verifyAccessToken(match[1]!, audiences);
      } catch (error) {
        throw refuse(`access token rejected: ${(error as Error).message}`);
      }
      // Only user tokens with a live session reach user endpoints: a logout counts at once here.
      const checked = await checkUserToken(app.db, claims);
      if ('refused' in checked) throw refuse(checked.refused);
      request.principal = { claims, user: checked.user };
    });
  },
  { name: 'authentication', dependencies: ['database', 'token-service'] },
);

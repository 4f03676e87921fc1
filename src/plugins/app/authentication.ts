// Bearer authentication for our own endpoints (RFC 6750): app.authenticate checks the
// access token, its session and its user, and leaves the result on request.principal.
import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { TesseraError } from '../../errors/errors.js';
import { TEXT_PATTERN } from '../../schemas.js';
import { checkUserToken, type UserRow } from '../../sessions/access-tokens.js';
import type { AccessClaims } from '../../tokens/token-service.js';

interface Auth {
  claims: AccessClaims;
  user: UserRow;
}

declare module 'fastify' {
  interface FastifyInstance {
    authenticate(this: void, request: FastifyRequest, reply: FastifyReply): Promise<void>;
    /** The same, for a token in the Authorization header or an `access_token` form parameter (RFC 6750 2.2). */
    authenticateWithBodyToken(this: void, request: FastifyRequest, reply: FastifyReply): Promise<void>;
  }
  interface FastifyRequest {
    /** Who called: set by app.authenticate (named apart from the verifier kit's request.auth). */
    principal: Auth | null;
  }
}

const STORABLE_TEXT = new RegExp(TEXT_PATTERN, 'u');

const bearerChallenge = (realm: string, error?: string) =>
  error ? `Bearer realm="${realm}", error="${error}"` : `Bearer realm="${realm}"`;

export default fp(
  async (app) => {
    const { config } = app;
    const audiences = [...new Set([config.issuer, config.defaultAudience])];
    app.decorateRequest('principal', null);

    const authenticateToken = async (request: FastifyRequest, token: string | undefined) => {
      if (token === undefined) {
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
        claims = await app.tokens.verifyAccessToken(token, audiences);
      } catch (error) {
        throw refuse(`access token rejected: ${(error as Error).message}`);
      }
      // Only user tokens with a live session reach user endpoints: a logout counts at once here.
      const checked = await checkUserToken(app.db, claims);
      if ('refused' in checked) throw refuse(checked.refused);
      request.principal = { claims, user: checked.user };
    };
    const fromHeader = (request: FastifyRequest) => {
      const header = request.headers.authorization;
      return typeof header === 'string' ? /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header)?.[1] : undefined;
    };
    app.decorate('authenticate', async (request: FastifyRequest) => {
      await authenticateToken(request, fromHeader(request));
    });
    app.decorate('authenticateWithBodyToken', async (request: FastifyRequest) => {
      const body = request.body as Record<string, unknown> | undefined;
      const inBody = typeof body?.access_token === 'string' ? body.access_token : undefined;
      // A value no Text field takes (NUL, a lone surrogate) is the body schema's to refuse:
      // validation runs next and answers 400 before any handler, as for every other field.
      if (inBody !== undefined && !STORABLE_TEXT.test(inBody)) return;
      const inHeader = fromHeader(request);
      // RFC 6750 2: a client uses one method per request.
      if (inBody !== undefined && inHeader !== undefined)
        throw new TesseraError('invalid_request', { detail: 'access token in both header and body' });
      await authenticateToken(request, inHeader ?? inBody);
    });
  },
  { name: 'authentication', dependencies: ['database', 'token-service'] },
);

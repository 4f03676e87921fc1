// Fastify plugin of the verifier kit (`@tessera/verifier/fastify`): bearer
// authentication (RFC 6750) with Tessera access tokens, plus scope and role checks.
//
//   await app.register(tesseraAuth, { issuer, audience });
//   app.get('/me', { preHandler: app.authenticate }, (request) => ({ sub: getAuth(request)?.sub }));
//   app.get('/hello', { preHandler: requireScope('profile') }, ...);
//   app.get('/admin', { preHandler: requireRole('admin') }, ...);
//
// Answers are RFC 6750 challenges with a generic JSON body; token contents and
// library messages never reach the client.
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AccessTokenClaims, Verifier } from './verifier.js';
import { authenticateHeader, roleCheck, scopeCheck, setUp, type Answer, type TesseraAuthOptions } from './bearer.js';

export type PreHandler = (
  this: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
) => Promise<FastifyReply | undefined>;

declare module 'fastify' {
  interface FastifyInstance {
    tesseraVerifier: Verifier;
    /** preHandler: verifies the bearer token and sets request.auth, or answers 401. */
    authenticate(this: void, request: FastifyRequest, reply: FastifyReply): Promise<void>;
  }
  interface FastifyRequest {
    /** The verified access token claims, or null when the request was not authenticated. */
    auth: AccessTokenClaims | null;
  }
}

const REQUEST_PROPERTY = 'auth';
/** The realm lives on the instance, so child contexts (routes in other plugins) see it. */
const kRealm = Symbol('tessera-verifier-realm');

/**
 * The verified claims of this request, or null when it was not authenticated; the same
 * as `request.auth`, for code that prefers a function.
 */
export function getAuth(request: FastifyRequest): AccessTokenClaims | null {
  return request.getDecorator<AccessTokenClaims | null>(REQUEST_PROPERTY);
}

function realmOf(request: FastifyRequest): string {
  return (request.server as unknown as Record<symbol, string | undefined>)[kRealm] ?? 'api';
}

function send(reply: FastifyReply, answer: Answer): FastifyReply {
  return reply.code(answer.status).headers(answer.headers).send(answer.body);
}

async function authenticate(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  const outcome = await authenticateHeader(
    request.server.tesseraVerifier,
    request.headers.authorization,
    realmOf(request),
  );
  if ('claims' in outcome) {
    request.setDecorator(REQUEST_PROPERTY, outcome.claims);
    return undefined;
  }
  if (outcome.error) request.log.info({ code: outcome.error.code }, 'access token refused');
  return send(reply, outcome.refusal);
}

/** Authenticates first when no earlier preHandler did; undefined once a reply was sent. */
async function ensureAuthenticated(
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<AccessTokenClaims | undefined> {
  if (getAuth(request) === null) await authenticate(request, reply);
  return reply.sent ? undefined : (getAuth(request) ?? undefined);
}

/** preHandler factory: the token must carry every listed scope (authenticates if needed). */
export function requireScope(...scopes: string[]): PreHandler {
  const check = scopeCheck(scopes);
  return async function scopeCheckHandler(request, reply) {
    const claims = await ensureAuthenticated(request, reply);
    if (!claims) return reply;
    const refused = check(claims, realmOf(request));
    return refused ? send(reply, refused) : undefined;
  };
}

/** preHandler factory: the token must carry at least one listed role (authenticates if needed). */
export function requireRole(...roles: string[]): PreHandler {
  const check = roleCheck(roles);
  return async function roleCheckHandler(request, reply) {
    const claims = await ensureAuthenticated(request, reply);
    if (!claims) return reply;
    const refused = check(claims, realmOf(request));
    return refused ? send(reply, refused) : undefined;
  };
}

async function plugin(app: FastifyInstance, options: TesseraAuthOptions): Promise<void> {
  const { realm, verifier, owned } = setUp(options, (error, source) =>
    app.log.warn({ source, reason: error.message }, 'tessera verifier: background fetch failed'),
  );
  app.decorate(kRealm, realm);
  app.decorate('tesseraVerifier', verifier);
  app.decorateRequest(REQUEST_PROPERTY, null);
  // A reply sent here ends the hook chain (Fastify checks reply.sent between hooks).
  app.decorate('authenticate', async (request: FastifyRequest, reply: FastifyReply) => {
    await authenticate(request, reply);
  });
  if (owned) app.addHook('onClose', async () => verifier.close());
}

const tesseraAuth = fp(plugin, { name: 'tessera-verifier', fastify: '5.x' });
export default tesseraAuth;
export type { TesseraAuthOptions } from './bearer.js';
export type { AccessTokenClaims, Verifier, VerifierOptions } from './verifier.js';
export { VerifierError } from './errors.js';

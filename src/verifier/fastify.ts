// Fastify plugin of the verifier kit (`tessera/verifier/fastify`): bearer
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
import { createVerifier, scopesOf, type AccessTokenClaims, type Verifier, type VerifierOptions } from './verifier.js';
import { VerifierError } from './errors.js';

export type PreHandler = (this: unknown, request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;

declare module 'fastify' {
  interface FastifyInstance {
    tesseraVerifier: Verifier;
    /** preHandler: verifies the bearer token and sets request.auth, or answers 401. */
    authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  }
  interface FastifyRequest {
    /** The verified access token claims, or null when the request was not authenticated. */
    auth: AccessTokenClaims | null;
  }
}

interface Shared {
  /** WWW-Authenticate realm; default the (first) audience. */
  realm?: string;
}

export type TesseraAuthOptions = (VerifierOptions & Shared) | ({ verifier: Verifier } & Shared);

const REQUEST_PROPERTY = 'auth';
const REALM = /^[\x20\x21\x23-\x5B\x5D-\x7E]{1,200}$/;
/** RFC 6749 3.3 scope-token. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
/** RFC 6750 2.1: "Bearer" 1*SP b64token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
/** The realm lives on the instance, so child contexts (routes in other plugins) see it. */
const kRealm = Symbol('tessera-verifier-realm');

/**
 * The verified claims of this request, or null when it was not authenticated; the same
 * as `request.auth`, for code that prefers a function.
 */
export function getAuth(request: FastifyRequest): AccessTokenClaims | null {
  return request.getDecorator<AccessTokenClaims | null>(REQUEST_PROPERTY);
}

function bearerToken(header: string | undefined): string | undefined | null {
  if (header === undefined) return undefined;
  if (!/^bearer(\s|$)/i.test(header)) return undefined; // another scheme: no bearer token was sent
  const match = BEARER.exec(header);
  return match ? match[1]! : null;
}

function challenge(realm: string, attributes: Record<string, string> = {}): string {
  return [`Bearer realm="${realm}"`, ...Object.entries(attributes).map(([name, value]) => `${name}="${value}"`)].join(', ');
}

function realmOf(request: FastifyRequest): string {
  return (request.server as unknown as Record<symbol, string | undefined>)[kRealm] ?? 'api';
}

function refuse(reply: FastifyReply, realm: string, error: VerifierError | undefined): FastifyReply {
  if (error?.code === 'ERR_JWKS_UNAVAILABLE') {
    // The token may well be good: the issuer's keys are out of reach. Not the client's fault.
    return reply
      .code(503)
      .header('retry-after', '5')
      .send({ error: 'temporarily_unavailable', error_description: 'Token verification is temporarily unavailable' });
  }
  if (!error) {
    // RFC 6750 3.1: no error attribute when the request carried no token at all.
    return reply
      .code(401)
      .header('www-authenticate', challenge(realm))
      .send({ error: 'invalid_token', error_description: 'An access token is required' });
  }
  return reply
    .code(401)
    .header('www-authenticate', challenge(realm, { error: 'invalid_token' }))
    .send({ error: 'invalid_token', error_description: 'The access token is invalid' });
}

async function authenticate(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  const realm = realmOf(request);
  const token = bearerToken(request.headers.authorization);
  if (token === undefined) return refuse(reply, realm, undefined);
  try {
    if (token === null) throw new VerifierError('ERR_TOKEN_MALFORMED', 'malformed Authorization header');
    request.setDecorator(REQUEST_PROPERTY, await request.server.tesseraVerifier.verify(token));
    return undefined;
  } catch (error) {
    const refused = error instanceof VerifierError ? error : new VerifierError('ERR_TOKEN_MALFORMED', 'verification failed', { cause: error });
    request.log.info({ code: refused.code }, 'access token refused');
    return refuse(reply, realm, refused);
  }
}

/** Authenticates first when no earlier preHandler did; undefined once a reply was sent. */
async function ensureAuthenticated(request: FastifyRequest, reply: FastifyReply): Promise<AccessTokenClaims | undefined> {
  if (getAuth(request) === null) await authenticate(request, reply);
  return reply.sent ? undefined : (getAuth(request) ?? undefined);
}

function forbidden(request: FastifyRequest, reply: FastifyReply, description: string, scope?: string): FastifyReply {
  const attributes: Record<string, string> = { error: 'insufficient_scope' };
  if (scope) attributes.scope = scope;
  return reply
    .code(403)
    .header('www-authenticate', challenge(realmOf(request), attributes))
    .send({ error: 'insufficient_scope', error_description: description });
}

/** preHandler factory: the token must carry every listed scope (authenticates if needed). */
export function requireScope(...scopes: string[]): PreHandler {
  if (scopes.length === 0 || !scopes.every((s) => SCOPE_TOKEN.test(s))) throw new TypeError('requireScope needs valid scope tokens');
  const required = scopes.join(' ');
  return async function scopeCheck(request, reply) {
    const claims = await ensureAuthenticated(request, reply);
    if (!claims) return reply;
    const granted = new Set(scopesOf(claims));
    if (!scopes.every((s) => granted.has(s))) return forbidden(request, reply, 'The access token lacks the required scope', required);
    return undefined;
  };
}

/** preHandler factory: the token must carry at least one listed role (authenticates if needed). */
export function requireRole(...roles: string[]): PreHandler {
  if (roles.length === 0 || !roles.every((r) => typeof r === 'string' && r.length > 0)) throw new TypeError('requireRole needs role names');
  return async function roleCheck(request, reply) {
    const claims = await ensureAuthenticated(request, reply);
    if (!claims) return reply;
    const granted = Array.isArray(claims.roles) ? claims.roles : [];
    if (!roles.some((r) => granted.includes(r))) return forbidden(request, reply, 'The access token lacks the required role');
    return undefined;
  };
}

async function plugin(app: FastifyInstance, options: TesseraAuthOptions): Promise<void> {
  const realm = options.realm ?? ('verifier' in options ? options.verifier.audience[0] : [options.audience].flat()[0]) ?? 'api';
  if (!REALM.test(realm)) throw new TypeError('realm must be a short printable string without quotes or backslashes');
  const owned = !('verifier' in options);
  const verifier =
    'verifier' in options
      ? options.verifier
      : createVerifier({
          ...options,
          onError:
            options.onError ?? ((error, source) => app.log.warn({ source, reason: error.message }, 'tessera verifier: background fetch failed')),
        });

  app.decorate(kRealm, realm);
  app.decorate('tesseraVerifier', verifier);
  app.decorateRequest(REQUEST_PROPERTY, null);
  // A reply sent here ends the hook chain (Fastify checks reply.sent between hooks).
  app.decorate('authenticate', async (request: FastifyRequest, reply: FastifyReply) => {
    await authenticate(request, reply);
  });
  if (owned) app.addHook('onClose', async () => verifier.close());
}

export const tesseraAuth = fp(plugin, { name: 'tessera-verifier', fastify: '5.x' });
export default tesseraAuth;
export type { AccessTokenClaims, Verifier, VerifierOptions } from './verifier.js';
export { VerifierError } from './errors.js';

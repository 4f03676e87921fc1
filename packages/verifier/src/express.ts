// Connect/Express middleware of the verifier kit (`@tessera/verifier/express`): the same
// bearer authentication and answers as the Fastify plugin. Typed with node:http's
// request and response, which Express's extend, so Express itself is not needed.
//
//   const auth = tesseraAuth({ issuer, audience });
//   app.get('/me', auth, (req, res) => res.json({ sub: getAuth(req)!.sub }));
//   app.get('/reports', auth.requireScope('reports:read'), handler);
//   app.get('/admin', auth.requireRole('admin'), handler);
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { VerifierError } from './errors.js';
import type { AccessTokenClaims, Verifier } from './verifier.js';
import { authenticateHeader, roleCheck, scopeCheck, setUp, type Answer, type TesseraAuthOptions } from './bearer.js';

export type Next = (error?: unknown) => void;
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: Next) => void;

export type TesseraAuthExpressOptions = TesseraAuthOptions & {
  /** Called with each refused token's error (log its `code`); the client only gets the generic answer. */
  onRefused?: (error: VerifierError, req: IncomingMessage) => void;
};

/** The authenticating middleware, with the scope and role checks that go with it. */
export interface TesseraAuthMiddleware extends Middleware {
  readonly verifier: Verifier;
  /** Middleware: the token must carry every listed scope (authenticates if needed). */
  requireScope(...scopes: string[]): Middleware;
  /** Middleware: the token must carry at least one listed role (authenticates if needed). */
  requireRole(...roles: string[]): Middleware;
  /** Closes the verifier if this middleware created it. */
  close(): Promise<void>;
}

/** The request with what the middleware puts on it. */
export type AuthenticatedRequest = IncomingMessage & { auth?: AccessTokenClaims };

/** Claims this module verified, by request: `req.auth` is writable by anyone, this is not. */
const verifiedClaims = new WeakMap<IncomingMessage, AccessTokenClaims>();

/** The verified claims of this request, or null when it was not authenticated. */
export function getAuth(req: IncomingMessage): AccessTokenClaims | null {
  return verifiedClaims.get(req) ?? null;
}

function send(res: ServerResponse, answer: Answer): void {
  res.statusCode = answer.status;
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(answer.body));
}

function tesseraAuth(options: TesseraAuthExpressOptions): TesseraAuthMiddleware {
  const { realm, verifier, owned } = setUp(options);
  // Per middleware, so claims verified for another audience never satisfy this one's checks.
  const mine = new WeakMap<IncomingMessage, AccessTokenClaims>();

  /** The claims, or undefined once a refusal was sent. */
  async function authenticated(req: IncomingMessage, res: ServerResponse): Promise<AccessTokenClaims | undefined> {
    const known = mine.get(req);
    if (known) return known;
    const outcome = await authenticateHeader(verifier, req.headers.authorization, realm);
    if ('refusal' in outcome) {
      if (outcome.error) options.onRefused?.(outcome.error, req);
      send(res, outcome.refusal);
      return undefined;
    }
    mine.set(req, outcome.claims);
    verifiedClaims.set(req, outcome.claims);
    (req as AuthenticatedRequest).auth = outcome.claims;
    return outcome.claims;
  }

  function guarded(check: (claims: AccessTokenClaims, realm: string) => Answer | undefined): Middleware {
    return (req, res, next) => {
      authenticated(req, res).then((claims) => {
        if (!claims) return;
        const refused = check(claims, realm);
        if (refused) send(res, refused);
        else next();
      }, next);
    };
  }

  const middleware: Middleware = (req, res, next) => {
    authenticated(req, res).then((claims) => {
      if (claims) next();
    }, next);
  };
  return Object.assign(middleware, {
    verifier,
    requireScope: (...scopes: string[]) => guarded(scopeCheck(scopes)),
    requireRole: (...roles: string[]) => guarded(roleCheck(roles)),
    close: async () => {
      if (owned) await verifier.close();
    },
  });
}

export default tesseraAuth;
export type { TesseraAuthOptions } from './bearer.js';
export type { AccessTokenClaims, Verifier, VerifierOptions } from './verifier.js';
export { VerifierError } from './errors.js';

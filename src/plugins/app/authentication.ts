// Bearer authentication for our own endpoints (RFC 6750): app.authenticate checks the
// access token, its session and its user, and leaves the result on request.principal.
// A token refused as forged, of another kind or for someone else becomes a token_rejected
// event through app.refusals (which authorization's 403s use too), limited per client IP.
import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { TesseraError } from '../../errors/errors.js';
import { TEXT_PATTERN } from '../../schemas.js';
import { checkUserToken, type UserRow } from '../../sessions/access-tokens.js';
import type { AccessClaims } from '../../tokens/token-service.js';
import { PostgresAttemptCounter, RedisAttemptCounter } from '../../defences/attempt-counter.js';
import { describeRejection, REFUSAL_WINDOW_SECONDS, RefusalLog } from '../../audit/refusals.js';

interface Auth {
  claims: AccessClaims;
  user: UserRow;
}

declare module 'fastify' {
  interface FastifyInstance {
    authenticate(this: void, request: FastifyRequest, reply: FastifyReply): Promise<void>;
    /** The same, for a token in the Authorization header or an `access_token` form parameter (RFC 6750 2.2). */
    authenticateWithBodyToken(this: void, request: FastifyRequest, reply: FastifyReply): Promise<void>;
    /** Refusal events (access_denied, token_rejected), at most AUDIT_REFUSALS_PER_IP per IP a minute. */
    refusals: RefusalLog;
  }
  interface FastifyRequest {
    /** Who called: set by app.authenticate (named apart from the verifier kit's request.auth). */
    principal: Auth | null;
  }
}

const STORABLE_TEXT = new RegExp(TEXT_PATTERN, 'u');

const bearerChallenge = (realm: string, error?: string) =>
  error ? `Bearer realm="${realm}", error="${error}"` : `Bearer realm="${realm}"`;

/** Summaries of dropped refusals go out this often (and at close). */
const SUMMARY_EVERY_MS = 60_000;

export default fp(
  async (app) => {
    const { config } = app;
    const audiences = [...new Set([config.issuer, config.defaultAudience])];
    app.decorateRequest('principal', null);

    // The limit is shared like the credential guard's counters: Redis when configured, else the database.
    const counter = app.redis
      ? new RedisAttemptCounter(app.redis, REFUSAL_WINDOW_SECONDS, config.redisPrefix)
      : new PostgresAttemptCounter(app.db, REFUSAL_WINDOW_SECONDS);
    const refusals = new RefusalLog(app.db, counter, config.audit.refusalsPerIp, app.metrics.refusals, app.log);
    app.decorate('refusals', refusals);
    const summarize = () =>
      refusals.flush().catch((error: unknown) => app.log.error({ err: error }, 'refusal summary failed'));
    const timer = setInterval(() => void summarize(), SUMMARY_EVERY_MS);
    timer.unref();
    app.addHook('onClose', async () => {
      clearInterval(timer);
      await summarize();
    });

    /** A refused token worth an event: forged, of another kind, or not for us; not an expired one. */
    const noteRejection = async (request: FastifyRequest, token: string, error: unknown) => {
      const rejection = describeRejection(error, token, { issuer: config.issuer, audiences });
      if (!rejection) return;
      await refusals.record({
        kind: 'token_rejected',
        ip: request.ip,
        detail: { ...rejection, route: request.routeOptions.url ?? null, method: request.method },
      });
    };

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
        await noteRejection(request, token, error).catch((failure: unknown) =>
          request.log.warn({ err: failure }, 'token refusal not recorded'),
        );
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
  { name: 'authentication', dependencies: ['database', 'token-service', 'redis', 'metrics'] },
);

// Role and permission checks as preHandlers: `preHandler: [app.authenticate,
// app.requirePermission('keys:manage')]`. Roles are read from the user's current
// record, so a demotion counts at once, not when the token expires. The second-factor
// policy and step-up (RFC 9470) are checked here too, from the token's amr and auth_time.
// A missing permission is an access_denied event (app.refusals, limited per client IP).
import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { TesseraError } from '../../errors/errors.js';
import { hasPermission, type Permission } from '../../domain/roles/permissions.js';
import { isMultiFactor, requiresSecondFactor } from '../../domain/mfa/policy.js';
import { recordSecurityEvent } from '../../audit/audit-log.js';

type PreHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** What a step-up route needs: a recent login, or a recent login with a second factor. */
export type StepUp = 'recent' | 'mfa';

declare module 'fastify' {
  interface FastifyInstance {
    requirePermission(permission: Permission): PreHandler;
    /** Accounts under the second-factor policy reach nothing but enrolment without one. */
    requireSecondFactor: PreHandler;
    requireStepUp(kind: StepUp): PreHandler;
  }
}

export default fp(
  async (app) => {
    const { issuer, mfa } = app.config;
    const refuse = async (request: FastifyRequest, reason: string, params: string) => {
      const principal = request.principal!;
      await recordSecurityEvent(app.db, {
        type: 'step_up_required',
        userId: principal.user.id,
        sessionId: principal.claims.sid ?? null,
        actor: principal.user.id,
        ip: request.ip,
        detail: { reason, route: request.routeOptions.url ?? null },
      });
      return new TesseraError('insufficient_user_authentication', {
        detail: reason,
        headers: {
          'WWW-Authenticate':
            `Bearer realm="${issuer}", error="insufficient_user_authentication", ` +
            `error_description="${reason}", ${params}`,
        },
      });
    };

    app.decorate('requirePermission', (permission: Permission): PreHandler => {
      return async (request) => {
        const roles = request.principal?.user.roles ?? [];
        if (hasPermission(roles, permission)) return;
        // 16.3.2: a failed authorization is an audit event (limited per IP like forged tokens).
        await app.refusals.record({
          kind: 'access_denied',
          ip: request.ip,
          userId: request.principal?.user.id ?? null,
          sessionId: request.principal?.claims.sid ?? null,
          detail: { permission, roles, route: request.routeOptions.url ?? null, method: request.method },
        });
        throw new TesseraError('forbidden', { detail: `missing permission ${permission}` });
      };
    });

    app.decorate('requireSecondFactor', async (request: FastifyRequest) => {
      const { user, claims } = request.principal!;
      if (requiresSecondFactor(user.roles, mfa) && !isMultiFactor(claims.amr ?? []))
        throw await refuse(request, 'A second factor is required', 'acr_values="mfa phr"');
    });

    app.decorate('requireStepUp', (kind: StepUp): PreHandler => {
      return async (request) => {
        const { claims } = request.principal!;
        const age = Math.floor(Date.now() / 1000) - (claims.auth_time ?? 0);
        if (kind === 'mfa' && !isMultiFactor(claims.amr ?? []))
          throw await refuse(
            request,
            'A login with a second factor is required',
            `acr_values="mfa phr", max_age=${mfa.stepUpMaxAge}`,
          );
        if (age > mfa.stepUpMaxAge)
          throw await refuse(request, 'A more recent login is required', `max_age=${mfa.stepUpMaxAge}`);
      };
    });
  },
  { name: 'authorization', dependencies: ['authentication', 'database'] },
);

// Deny by default: every route declares its policy in `config.policy`, and this plugin
// turns it into onRequest hooks (authentication, then the permission check) that run
// before the body is even parsed. A route without a policy stops the app from starting.
import fp from 'fastify-plugin';
import type { onRequestAsyncHookHandler, RouteOptions } from 'fastify';
import type { Permission } from '../../domain/roles/permissions.js';
import type { StepUp } from './authorization.js';

export type RoutePolicy =
  /** Anyone. */
  | { public: true }
  /** Authenticates a client itself (token, revocation, introspection endpoints). */
  | { client: true }
  /**
   * Any signed-in, enabled user: their own data only. `tokenInBody`: the access token may
   * also come as a form parameter (RFC 6750 2.2, POST /userinfo), so authentication waits
   * for the body and runs in preValidation, still before any validation or handler.
   */
  | { user: true; tokenInBody?: true; beforeEnrolment?: true; stepUp?: StepUp }
  /** A signed-in user whose current roles grant this permission. */
  | { permission: Permission; stepUp?: StepUp };
// Every user and permission route also applies the second-factor policy (an account it
// covers reaches only the routes marked `beforeEnrolment` until its session used a second
// factor), and `stepUp` routes need an auth_time within STEP_UP_MAX_AGE (RFC 9470).

declare module 'fastify' {
  interface FastifyContextConfig {
    policy?: RoutePolicy;
  }
}

export default fp(
  async (app) => {
    app.addHook('onRoute', (route: RouteOptions) => {
      const policy = route.config?.policy;
      if (!policy) throw new Error(`route ${String(route.method)} ${route.url} declares no policy`);
      if ('public' in policy || 'client' in policy) return;
      const checks: onRequestAsyncHookHandler[] = [];
      if (!('user' in policy && policy.beforeEnrolment)) checks.push(app.requireSecondFactor);
      if ('permission' in policy) checks.push(app.requirePermission(policy.permission));
      if (policy.stepUp) checks.push(app.requireStepUp(policy.stepUp));
      if ('user' in policy && policy.tokenInBody) {
        const existing = route.preValidation
          ? Array.isArray(route.preValidation)
            ? route.preValidation
            : [route.preValidation]
          : [];
        // No principal only when the body's token is text no field takes: validation, next, refuses it.
        const afterToken = checks.map(
          (check): onRequestAsyncHookHandler =>
            async function (request, reply) {
              if (request.principal) await check.call(this, request, reply);
            },
        );
        route.preValidation = [app.authenticateWithBodyToken, ...afterToken, ...existing];
        return;
      }
      const hooks: onRequestAsyncHookHandler[] = [app.authenticate, ...checks];
      const existing = route.onRequest ? (Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]) : [];
      route.onRequest = [...hooks, ...existing];
    });
  },
  { name: 'route-policy', dependencies: ['authentication', 'authorization'] },
);

// Deny by default: every route declares its policy in `config.policy`, and this plugin
// turns it into onRequest hooks (authentication, then the permission check) that run
// before the body is even parsed. A route without a policy stops the app from starting.
import fp from 'fastify-plugin';
import type { onRequestAsyncHookHandler, RouteOptions } from 'fastify';
import type { Permission } from '../../domain/roles/permissions.js';

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
  | { user: true; tokenInBody?: true }
  /** A signed-in user whose current roles grant this permission. */
  | { permission: Permission };

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
      if ('user' in policy && policy.tokenInBody) {
        const existing = route.preValidation
          ? Array.isArray(route.preValidation)
            ? route.preValidation
            : [route.preValidation]
          : [];
        route.preValidation = [app.authenticateWithBodyToken, ...existing];
        return;
      }
      const hooks: onRequestAsyncHookHandler[] = [app.authenticate];
      if ('permission' in policy) hooks.push(app.requirePermission(policy.permission));
      const existing = route.onRequest ? (Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]) : [];
      route.onRequest = [...hooks, ...existing];
    });
  },
  { name: 'route-policy', dependencies: ['authentication', 'authorization'] },
);

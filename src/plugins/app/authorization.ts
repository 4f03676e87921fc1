// Role and permission checks as preHandlers: `preHandler: [app.authenticate,
// app.requirePermission('keys:manage')]`. Roles are read from the user's current
// record, so a demotion counts at once, not when the token expires.
import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { TesseraError } from '../../errors/errors.js';
import { hasPermission, type Permission } from '../../domain/roles/permissions.js';

type PreHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

declare module 'fastify' {
  interface FastifyInstance {
    requirePermission(permission: Permission): PreHandler;
  }
}

export default fp(
  async (app) => {
    app.decorate('requirePermission', (permission: Permission): PreHandler => {
      return async (request) => {
        const roles = request.principal?.user.roles ?? [];
        if (!hasPermission(roles, permission))
          throw new TesseraError('forbidden', { detail: `missing permission ${permission}` });
      };
    });
  },
  { name: 'authorization', dependencies: ['authentication'] },
);

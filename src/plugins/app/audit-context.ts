// Gives every request an audit context (request id, client IP, user agent, the acting
// user once authenticated, and the app's metrics as the observer of recorded events).
// Body parsing runs on the socket's callbacks, outside the context; the context is
// re-entered before validation, the way @fastify/request-context does it.
import { AsyncResource } from 'node:async_hooks';
import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import { runWithAuditContext, type AuditContext } from '../../audit/request-context.js';

const scopes = new WeakMap<FastifyRequest, AsyncResource>();

export default fp(
  async (app) => {
    app.addHook('onRequest', (request, _reply, done) => {
      const context: AuditContext = {
        requestId: request.id,
        ip: request.ip,
        userAgent: request.headers['user-agent']?.slice(0, 512) ?? null,
        actor: () => request.principal?.user.id ?? null,
        onEvent: (event) => app.metrics.observeEvent(event),
      };
      runWithAuditContext(context, () => {
        scopes.set(request, new AsyncResource('tessera-request'));
        done();
      });
    });
    app.addHook('preValidation', (request, _reply, done) => {
      const scope = scopes.get(request);
      if (scope) scope.runInAsyncScope(done);
      else done();
    });
  },
  { name: 'audit-context', dependencies: ['metrics'] },
);

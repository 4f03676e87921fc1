// Gives every request an audit context (request id, client IP, user agent, the acting
// user once authenticated, and the app's metrics as the observer of recorded events).
// Body parsing runs on the socket's callbacks, outside the context; the same context is
// entered again before validation (the store is all there is to restore: no AsyncResource
// per request is needed for that).
import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import { runWithAuditContext, type AuditContext } from '../../audit/request-context.js';

const contexts = new WeakMap<FastifyRequest, AuditContext>();

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
      contexts.set(request, context);
      runWithAuditContext(context, done);
    });
    app.addHook('preValidation', (request, _reply, done) => {
      const context = contexts.get(request);
      if (context) runWithAuditContext(context, done);
      else done();
    });
  },
  { name: 'audit-context', dependencies: ['metrics'] },
);

// Request metrics and the METRICS_PORT listener: every response is timed by route pattern
// and status; token responses are counted by grant, 429s by route. With METRICS_PORT set,
// GET /metrics is served there without auth (bind it where only Prometheus reaches);
// otherwise the admin-only route in routes/metrics serves it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fp from 'fastify-plugin';
import { Metrics } from '../../metrics/metrics.js';
import { securityHeaders } from '../../lib/security-headers.js';

const JSON_TYPE = 'application/json; charset=utf-8';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
    /** The METRICS_PORT listener's address once ready, when METRICS_PORT is set. */
    metricsAddress(): AddressInfo | undefined;
  }
}

/** The grant a successful token response answered, for tokens_issued. */
function grantOf(route: string, body: unknown): string | undefined {
  if (route === '/auth/login') return 'login';
  const grant = (body as { grant_type?: unknown } | undefined)?.grant_type;
  return route === '/oauth/token' && typeof grant === 'string' ? grant.slice(0, 32) : undefined;
}

function serveMetrics(metrics: Metrics, port: number, host: string): Promise<Server> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (request.method !== 'GET' || path !== '/metrics') {
      response
        .writeHead(404, { ...securityHeaders(false), 'content-type': JSON_TYPE })
        .end('{"error":"not_found","error_description":"Not found"}');
      return;
    }
    metrics.render().then(
      ({ contentType, body }) =>
        response.writeHead(200, { ...securityHeaders(false), 'content-type': contentType }).end(body),
      () =>
        response
          .writeHead(500, { ...securityHeaders(false), 'content-type': JSON_TYPE })
          .end('{"error":"server_error","error_description":"Internal server error"}'),
    );
  });
  server.requestTimeout = 10_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

export default fp(
  async (app) => {
    const metrics = new Metrics(() => ({ db: app.db, hasher: app.hasher }));
    app.decorate('metrics', metrics);

    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched';
      const status = reply.statusCode;
      metrics.observeResponse({
        method: request.method,
        route,
        status,
        seconds: reply.elapsedTime / 1000,
        ...(status === 200 ? { grant: grantOf(route, request.body) } : {}),
      });
      done();
    });

    let server: Server | undefined;
    app.decorate('metricsAddress', () => (server?.address() as AddressInfo | null) ?? undefined);
    const { port, host } = app.config.metrics;
    if (port !== undefined) {
      app.addHook('onReady', async () => {
        server = await serveMetrics(metrics, port, host);
      });
      app.addHook('onClose', async () => {
        if (!server) return;
        server.closeAllConnections();
        await new Promise<void>((resolve) => server!.close(() => resolve()));
      });
    }
  },
  { name: 'metrics', dependencies: ['database', 'hasher'] },
);

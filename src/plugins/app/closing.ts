// The drain, from the first signal (or SHUTDOWN_DELAY before close()) until the last connection ends: every response carries
// `Connection: close`, so no client sends another request on a connection about to close,
// and /readyz answers 503. A request that still arrives on an open connection (begun before
// the close, or pipelined) is served, not refused: the app is whole until the last
// connection ends, and a load balancer does not retry a refused POST elsewhere.
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** Whether close() (or the drain before it) has begun: from then on the instance only finishes what it has. */
    isClosing(): boolean;
    /**
     * Starts the drain without closing: /readyz answers 503 and every response carries
     * `Connection: close`, while the listener still accepts (SHUTDOWN_DELAY, before close()).
     */
    beginDrain(): void;
  }
}

export default fp(
  async (app) => {
    let closing = false;
    app.decorate('isClosing', () => closing);
    app.decorate('beginDrain', () => {
      closing = true;
    });
    // preClose runs before the listener and the idle connections are closed.
    app.addHook('preClose', async () => {
      closing = true;
    });
    // Fastify sets it itself on requests routed after the close began; this covers the
    // ones already in flight then.
    app.addHook('onSend', async (_request, reply) => {
      if (closing) reply.header('connection', 'close');
    });
  },
  { name: 'closing' },
);

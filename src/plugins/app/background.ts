// Work that must not be timed by the caller: app.background(name, task) runs a task after
// the answer was sent (a password reset request answers before anyone looks the address
// up, so existing and unknown addresses answer alike). Failures are logged, never
// answered; close waits for what is still running.
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** Runs `task` on its own, after the current request; its failure is logged under `name`. */
    background(name: string, task: () => Promise<void>): void;
  }
}

export default fp(
  async (app) => {
    const running = new Set<Promise<void>>();
    app.decorate('background', (name: string, task: () => Promise<void>) => {
      const run: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
        .then(task)
        .catch((error: unknown) => app.log.error({ err: error, task: name }, 'background task failed'))
        .finally(() => running.delete(run));
      running.add(run);
    });
    app.addHook('onClose', async () => {
      while (running.size) await Promise.all([...running]);
    });
  },
  { name: 'background' },
);

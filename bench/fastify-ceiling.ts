// The JWKS ceiling: a bare Fastify route that answers GET /jwks with fixed bytes and fixed
// headers (the side-by-side bench copies both from a real Tessera JWKS response). Nothing
// else: no plugins, no hooks, no logger.
//
// As a module: startCeiling({ body, headers, cores }) spawns this file under
// `taskset -c <cores>` and hands it the response over IPC. As a script, it waits for that
// message, listens on 127.0.0.1 (a free port) and prints one JSON line ({ url, pid }).
import { spawn, type ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Fastify from 'fastify';

interface CeilingResponse {
  body: string;
  headers: Record<string, string>;
}

export interface CeilingServer {
  url: string;
  pid: number;
  close(): Promise<void>;
}

const SCRIPT = fileURLToPath(import.meta.url);
const REPO_ROOT = join(dirname(SCRIPT), '..');

export async function startCeiling(options: CeilingResponse & { cores: string }): Promise<CeilingServer> {
  const args = ['-c', options.cores, process.execPath, '--import', 'tsx', SCRIPT];
  const child: ChildProcess = spawn('taskset', args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.send({ body: options.body, headers: options.headers } satisfies CeilingResponse);
  const info = await new Promise<{ url: string; pid: number }>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const onExit = (code: number | null) => reject(new Error(`ceiling server exited (${code}) before listening`));
    child.once('exit', onExit);
    child.once('error', reject);
    lines.on('line', (line) => {
      if (!line.startsWith('{')) return process.stderr.write(`${line}\n`);
      child.off('exit', onExit);
      resolve(JSON.parse(line) as { url: string; pid: number });
    });
  });
  return {
    ...info,
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

async function serve(response: CeilingResponse): Promise<void> {
  const app = Fastify({ logger: false });
  app.get('/jwks', (_request, reply) => {
    void reply.headers(response.headers).send(response.body);
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const stop = () => void app.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
  const { port } = app.server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}`, pid: process.pid })}\n`);
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  process.once('message', (message: CeilingResponse) => {
    serve(message).catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
  });
}

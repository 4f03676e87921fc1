// The login ceiling: a bare Fastify route that answers POST /auth/login by one argon2id
// verify of a fixed stored hash (Tessera's own, copied from its users table), at most
// `concurrency` verifies at once as Tessera's hasher allows, on the same libuv pool size.
// Nothing else: no user lookup, no session, no token, no audit event, no plugins.
//
// As a module: startRawArgon2({ hash, concurrency, cores }) spawns this file under
// `taskset -c <cores>`. As a script it listens on 127.0.0.1 (a free port) and prints one
// JSON line ({ url, loginUrl, pid, threadpool }).
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import argon2 from 'argon2';
import Fastify from 'fastify';
import { startPinnedChild } from './pinned-child.js';

interface RawInfo {
  url: string;
  loginUrl: string;
  pid: number;
  threadpool: number;
}

export interface RawArgon2Server extends RawInfo {
  close(): Promise<void>;
}

const SCRIPT = fileURLToPath(import.meta.url);
const REPO_ROOT = join(dirname(SCRIPT), '..');

export async function startRawArgon2(options: {
  hash: string;
  concurrency: number;
  cores: string;
}): Promise<RawArgon2Server> {
  const child = await startPinnedChild<RawInfo>({
    label: 'raw argon2 server',
    cores: options.cores,
    script: SCRIPT,
    args: ['--hash', options.hash, '--concurrency', String(options.concurrency)],
    cwd: REPO_ROOT,
  });
  return { ...child.info, close: () => child.close() };
}

async function serve(hash: string, concurrency: number): Promise<void> {
  // The same admission as PasswordHasher.slot: `concurrency` at once, the rest wait in turn.
  let running = 0;
  const waiting: Array<() => void> = [];
  const slot = async <T>(work: () => Promise<T>): Promise<T> => {
    if (running >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
  const app = Fastify({ logger: false });
  app.post<{ Body: { email?: string; password?: string } }>('/auth/login', async (request, reply) => {
    const ok = await slot(() => argon2.verify(hash, String(request.body?.password ?? '')));
    return reply.code(ok ? 200 : 401).send({ ok });
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const stop = () => void app.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const info: RawInfo = {
    url,
    loginUrl: `${url}/auth/login`,
    pid: process.pid,
    threadpool: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
  };
  process.stdout.write(`${JSON.stringify(info)}\n`);
}

const argument = (name: string) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
};

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const hash = argument('--hash');
  const concurrency = Number(argument('--concurrency') ?? 4);
  if (!hash?.startsWith('$argon2id$')) throw new Error('--hash must be an argon2id PHC string');
  serve(hash, concurrency).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}

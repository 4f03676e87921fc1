// A Tessera really listening on 127.0.0.1 with ISSUER=http://localhost:<port>, for tests
// that drive it from outside the process's inject(): a browser, a relying party using
// openid-client, a cookie-keeping HTML agent. Closed after the test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { build, freePort, type Built } from './build.js';

export interface LiveServer extends Built {
  /** The issuer and base of every URL: `http://localhost:<port>`. */
  url: string;
  port: number;
}

/** How many servers this process has started: the first takes the file's own database. */
let started = 0;

/**
 * Builds Tessera through build() on a free port and listens on 127.0.0.1.
 *
 * The first server of a test file uses the file's own database (testDatabaseEnv). The
 * embedded PGlite has one user at a time, so every later server on it gets an embedded
 * database of its own (removed after the test); on PostgreSQL (TEST_DATABASE_URL) later
 * servers share the file's database, as instances of one deployment would. An env that
 * names DATA_DIR or DATABASE_URL itself is taken as it is.
 */
export async function startLiveServer(
  t: Pick<TestContext, 'after'>,
  env: Record<string, string> = {},
): Promise<LiveServer> {
  const port = await freePort();
  const url = `http://localhost:${port}`;
  started += 1;
  const own: Record<string, string> = {};
  let dir: string | undefined;
  if (started > 1 && !process.env.TEST_DATABASE_URL && !('DATA_DIR' in env) && !('DATABASE_URL' in env)) {
    dir = mkdtempSync(join(tmpdir(), 'tessera-live-'));
    own.DATA_DIR = dir;
  }
  // What build() would register on t, run here in a known order instead: the app closes
  // (server, then database), then its embedded database directory goes.
  const closers: Array<() => Promise<void>> = [];
  let built: Built;
  try {
    built = await build(
      { after: (fn: () => Promise<void>) => void closers.push(fn) },
      {
        ...own,
        ISSUER: url,
        PORT: String(port),
        ...env,
      },
    );
  } catch (error) {
    if (dir) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const close = async () => {
    // A browser keeps sockets open, some of them preconnected and never used: the server
    // would wait for them until its request timeout (30 s). At the end of a test nothing
    // is in flight that matters, so every connection is cut while the app closes.
    const cut = setInterval(() => built.app.server.closeAllConnections(), 20);
    try {
      built.app.server.closeAllConnections();
      for (const fn of closers.reverse()) await fn();
    } finally {
      clearInterval(cut);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    await built.app.listen({ port, host: '127.0.0.1' });
  } catch (error) {
    await close();
    throw error;
  }
  t.after(close);
  return { ...built, url, port };
}

// npm run bench: figures, not pass/fail. Runs against BENCH_DATABASE_URL (PostgreSQL)
// when set, else the embedded engine, on loopback with bounded counts; then the side-by-side
// table against oidc-provider and the ceilings (bench/side-by-side.ts), written to
// bench/results/side-by-side.{json,md,svg}. `npm run bench -- --side-by-side-only` runs the
// table alone; the whole run takes about three to four minutes.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config/config.js';
import { buildServer } from '../src/server.js';
import { sideBySide } from './side-by-side.js';

const ROTATIONS = Number(process.env.BENCH_ROTATIONS ?? 500);
const LOGINS = Number(process.env.BENCH_LOGINS ?? 40);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const ms = (x: number) => `${x.toFixed(2)} ms`;

async function main() {
  const url = process.env.BENCH_DATABASE_URL;
  const dataDir = url ? undefined : mkdtempSync(join(tmpdir(), 'tessera-bench-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    MASTER_KEY: randomBytes(32).toString('base64'),
    // The hash path alone: no captcha, no growing delay, no rate limit in the way.
    CAPTCHA_PROVIDER: 'none',
    LOGIN_DELAY_MAX_MS: '0',
    LOGIN_RATE_LIMIT: '1000000',
    TOKEN_RATE_LIMIT: '1000000',
    REGISTRATION_RATE_LIMIT: '1000000',
    RATE_LIMIT_MAX: '1000000',
    ...(dataDir ? { DATA_DIR: dataDir } : { DATABASE_URL: url }),
  });
  const app = await buildServer(config, { logger: false });
  await app.ready();
  const engine = url ? 'PostgreSQL' : 'PGlite (embedded)';
  const email = `bench-${randomBytes(4).toString('hex')}@example.com`;
  const password = 'bench-password-quiet-orbit';
  await app.inject({ method: 'POST', url: '/users', payload: { email, password } });

  // Login timing: unknown account vs existing account with a wrong password, interleaved.
  const unknown: number[] = [];
  const wrong: number[] = [];
  for (let i = 0; i < LOGINS; i++) {
    for (const [list, who] of [
      [unknown, `nobody-${email}`],
      [wrong, email],
    ] as const) {
      const start = performance.now();
      const res = await app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email: who, password: 'not-the-password-123' },
      });
      list.push(performance.now() - start);
      if (res.statusCode !== 401) throw new Error(`unexpected ${res.statusCode}`);
    }
  }

  // Refresh rotation: sequential rotations of one session (one conditional UPDATE each).
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
  let token = login.json<{ refresh_token: string }>().refresh_token;
  const start = performance.now();
  for (let i = 0; i < ROTATIONS; i++) {
    const res = await app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `grant_type=refresh_token&refresh_token=${token}`,
    });
    if (res.statusCode !== 200) throw new Error(`refresh failed: ${res.body}`);
    token = res.json<{ refresh_token: string }>().refresh_token;
  }
  const elapsed = performance.now() - start;

  console.log(
    `engine: ${engine}; argon2id m=${config.argon2.memoryCost} KiB t=${config.argon2.timeCost} p=${config.argon2.parallelism}`,
  );
  console.log(
    `login, wrong password, median of ${LOGINS}:  unknown account ${ms(median(unknown))}  |  existing account ${ms(median(wrong))}`,
  );
  console.log(
    `refresh rotation, ${ROTATIONS} sequential: ${(ROTATIONS / (elapsed / 1000)).toFixed(0)} /s, ${ms(elapsed / ROTATIONS)} each (in-process inject)`,
  );
  await app.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}

if (!process.argv.includes('--side-by-side-only')) await main();
await sideBySide();

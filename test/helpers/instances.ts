// Real Tessera processes (`tessera serve` as child processes) for tests of several
// instances, of crashes and of shutdowns: each on a port of its own, sharing whatever
// database the env names; ready once it logged "tessera ready"; stopped with any signal.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import type { TestContext } from 'node:test';
import { GOOD_PASSWORD, freePort } from './build.js';
import { cliEnv, startCli, tessera } from './cli.js';

export interface Instance {
  url: string;
  port: number;
  process: ChildProcess;
  /** Everything it wrote on stdout and stderr so far. */
  output(): string;
  /** Its JSON log lines so far. */
  records(): Record<string, unknown>[];
  /** Sends the signal and waits for the exit; the exit code (null after a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startInstance(
  t: Pick<TestContext, 'after'>,
  env: Record<string, string>,
  port?: number,
): Promise<Instance> {
  const chosen = port ?? (await freePort());
  const child = startCli(['serve'], { ...env, LOG_LEVEL: 'info', PORT: String(chosen), HOST: '127.0.0.1' });
  let log = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  t.after(() => stop('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not become ready: ${log}`)), 60_000);
    const check = () => {
      if (log.includes('tessera ready')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${log}`));
    });
  });
  // Whole lines only; a line stderr cut into is skipped.
  const records = () =>
    log
      .split('\n')
      .slice(0, -1)
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  return { url: `http://127.0.0.1:${chosen}`, port: chosen, process: child, output: () => log, records, stop };
}

/**
 * Settings for instances a test loads: this file's database, and the defences that would
 * slow down or refuse the test's own traffic (login delay, CAPTCHA, rate limits) off.
 */
export function instanceEnv(extra: Record<string, string> = {}): Promise<Record<string, string>> {
  return cliEnv({
    EMAIL_VERIFICATION: 'off',
    // Admins without a second factor keep their powers unless a test is about the policy (test/mfa/).
    MFA_REQUIRED_ROLES: '',
    CAPTCHA_PROVIDER: 'none',
    LOGIN_DELAY_MAX_MS: '0',
    LOGIN_RATE_LIMIT: '1000000',
    TOKEN_RATE_LIMIT: '1000000',
    RATE_LIMIT_MAX: '1000000',
    ...extra,
  });
}

/** A user with GOOD_PASSWORD, created with `tessera users create` as an operator would. */
export async function createUser(env: Record<string, string>, email: string): Promise<void> {
  const created = await tessera(['users', 'create', '--email', email], { env, stdin: GOOD_PASSWORD });
  assert.equal(created.code, 0, created.stderr);
}

// bin/healthcheck.js, the image's HEALTHCHECK, run as the container runs it (plain node, no
// build, no TypeScript) against a real `tessera serve`: 0 on 200 over plain HTTP and over
// HTTPS (a certificate for the public host, verified against TLS_CERT_FILE's own chain),
// 1 when the certificate is not that one or does not name ISSUER's host, when /readyz
// answers 503 (its Redis killed), when the process hangs (SIGSTOP: connections are accepted,
// nothing answers) within its timeout, and when nothing listens. Never a secret in its output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliEnv, ROOT } from '../helpers/cli.js';
import { startInstance, type Instance } from '../helpers/instances.js';
import { eventually, ownRedis, redisBin } from '../faults/processes.js';

const SCRIPT = join(ROOT, 'bin/healthcheck.js');
// In the checker's environment as in the container's: it must never print them.
const SECRETS = {
  MASTER_KEY: randomBytes(32).toString('base64'),
  DATABASE_URL: `postgres://tessera:${randomBytes(12).toString('hex')}@db.invalid:5432/tessera`,
};

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the script the way Docker does: `node bin/healthcheck.js [readyz]`, with only the given settings. */
async function healthcheck(env: Record<string, string>, args: string[] = []): Promise<Outcome> {
  const started = Date.now();
  const child = spawn(process.execPath, [SCRIPT, ...args], {
    env: { PATH: process.env.PATH ?? '', ...SECRETS, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  // Far above any timeout it is given: a script that never gives up fails the test here.
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  clearTimeout(killer);
  const outcome = { code, stdout, stderr, ms: Date.now() - started };
  assert.equal(stdout, '', 'nothing on stdout');
  assert.ok(stderr.split('\n').filter(Boolean).length <= 1, `at most one line: ${stderr}`);
  for (const value of Object.values(SECRETS)) assert.ok(!stderr.includes(value), 'no secret in its output');
  assert.ok(!/password|tessera:[0-9a-f]/i.test(stderr), `no credential in: ${stderr}`);
  return outcome;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

/** A root CA, an intermediate it signed, and a leaf for `host` the intermediate signed. */
function certificateChain(dir: string, host: string) {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n';
  writeFileSync(join(dir, 'ca.ext'), ca);
  writeFileSync(
    join(dir, 'leaf.ext'),
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:${host}\n`,
  );
  const at = (name: string) => join(dir, name);
  openssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    at('root.key'),
    '-out',
    at('root.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=Test Root',
  ]);
  openssl(['req', ...ec, '-keyout', at('inter.key'), '-out', at('inter.csr'), '-subj', '/CN=Test Intermediate']);
  openssl(
    ['x509', '-req', '-in', at('inter.csr'), '-CA', at('root.crt'), '-CAkey', at('root.key')].concat([
      '-CAcreateserial',
      '-out',
      at('inter.crt'),
      '-days',
      '2',
      '-extfile',
      at('ca.ext'),
    ]),
  );
  openssl(['req', ...ec, '-keyout', at('leaf.key'), '-out', at('leaf.csr'), '-subj', `/CN=${host}`]);
  openssl(
    ['x509', '-req', '-in', at('leaf.csr'), '-CA', at('inter.crt'), '-CAkey', at('inter.key')].concat([
      '-CAcreateserial',
      '-out',
      at('leaf.crt'),
      '-days',
      '2',
      '-extfile',
      at('leaf.ext'),
    ]),
  );
  // What a public CA hands out: the leaf and its intermediate, not the root.
  writeFileSync(at('fullchain.pem'), readFileSync(at('leaf.crt'), 'utf8') + readFileSync(at('inter.crt'), 'utf8'));
  // The same name, from a key and issuer nobody trusts here.
  openssl(
    ['req', '-x509', ...ec, '-keyout', at('other.key'), '-out', at('other.crt'), '-days', '2'].concat([
      '-subj',
      `/CN=${host}`,
      '-addext',
      `subjectAltName=DNS:${host}`,
    ]),
  );
  return { cert: at('fullchain.pem'), key: at('leaf.key'), untrusted: at('other.crt') };
}

async function stopped(instance: Instance): Promise<void> {
  assert.equal(await instance.stop('SIGTERM'), 0, instance.output());
}

test('plain HTTP: 0 while healthy and ready, 1 on a 503, on a hang within its timeout, and with nothing listening', async (t) => {
  const bin = redisBin();
  const redis = bin ? await ownRedis(t, bin) : undefined;
  const instance = await startInstance(
    t,
    await cliEnv(
      redis
        ? { REDIS_URL: redis.url, REDIS_PREFIX: `hc-${randomBytes(4).toString('hex')}:`, REDIS_TIMEOUT_MS: '500' }
        : {},
    ),
  );
  const env = { PORT: String(instance.port), HEALTHCHECK_TIMEOUT_MS: '1500' };

  assert.equal((await healthcheck(env)).code, 0);
  assert.equal((await healthcheck(env, ['readyz'])).code, 0);
  assert.equal((await healthcheck({ ...env, HOST: '0.0.0.0' })).code, 0, 'HOST=0.0.0.0 (the image) means loopback');
  const usage = await healthcheck(env, ['metrics']);
  assert.equal(usage.code, 1);
  assert.match(usage.stderr, /usage/);

  await t.test(
    'a /readyz that answers 503 (Redis killed) is unhealthy; /healthz stays 0',
    { skip: !redis && 'redis-server is not installed' },
    async () => {
      await redis!.stop();
      let last: Outcome | undefined;
      const unready = await eventually(async () => {
        last = await healthcheck(env, ['readyz']);
        return last.code === 1;
      }, 20_000);
      assert.ok(unready, `still ready: ${last?.stderr}`);
      assert.match(last!.stderr, /\/readyz answered 503/);
      assert.equal((await healthcheck(env)).code, 0);
    },
  );

  await t.test('a process that accepts connections and never answers: 1, within its timeout', async () => {
    process.kill(instance.process.pid!, 'SIGSTOP');
    try {
      const hung = await healthcheck({ ...env, HEALTHCHECK_TIMEOUT_MS: '1000' });
      assert.equal(hung.code, 1);
      assert.match(hung.stderr, /no answer from \/healthz within 1000 ms/);
      // Far below the 30 s after which the helper kills it; never a timing assertion beyond that.
      assert.ok(hung.ms < 20_000, `${hung.ms} ms`);
    } finally {
      process.kill(instance.process.pid!, 'SIGCONT');
    }
    assert.equal((await healthcheck(env)).code, 0, 'answers again once resumed');
  });

  await stopped(instance);
  const down = await healthcheck(env);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /ECONNREFUSED/);
});

test('HTTPS: verified against TLS_CERT_FILE for the host of ISSUER, not for 127.0.0.1', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-healthcheck-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const host = 'id.example.test';
  const chain = certificateChain(dir, host);
  const instance = await startInstance(
    t,
    await cliEnv({ ISSUER: `https://${host}`, TLS_CERT_FILE: chain.cert, TLS_KEY_FILE: chain.key }),
  );
  const env = { PORT: String(instance.port), TLS_CERT_FILE: chain.cert, ISSUER: `https://${host}` };

  // The file holds the leaf and its intermediate only, as a public CA's fullchain does.
  assert.equal((await healthcheck(env)).code, 0);
  assert.equal((await healthcheck(env, ['readyz'])).code, 0);

  const wrongName = await healthcheck({ ...env, ISSUER: 'https://other.example.test' });
  assert.equal(wrongName.code, 1, 'the certificate must name the issuer host');
  assert.match(wrongName.stderr, /ERR_TLS_CERT_ALTNAME_INVALID/);

  const notOurs = await healthcheck({ ...env, TLS_CERT_FILE: chain.untrusted });
  assert.equal(notOurs.code, 1, 'a server that does not present the certificate of TLS_CERT_FILE is not healthy');

  const plain = await healthcheck({ PORT: String(instance.port) });
  assert.equal(plain.code, 1, 'plain HTTP to the TLS port');

  const unreadable = await healthcheck({ ...env, TLS_CERT_FILE: join(dir, 'missing.pem') });
  assert.equal(unreadable.code, 1);
  assert.match(unreadable.stderr, /cannot read TLS_CERT_FILE/);

  await stopped(instance);
});

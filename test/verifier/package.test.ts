// The verifier as a resource service gets it: `npm pack` of packages/verifier, installed
// from the tarball into an empty folder (its dependencies from the registry), then a
// plain Node script there verifies a real Tessera access token from a listening app.
// The installed tree must hold none of the server's heavy dependencies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build, freePort, registerAndLogin } from '../helpers/build.js';

const PACKAGE_DIR = fileURLToPath(new URL('../../packages/verifier/', import.meta.url));
/** What the server pulls in and a resource service must not get with the verifier. */
const SERVER_ONLY = [
  'argon2',
  'typeorm',
  'typeorm-pglite',
  'pg',
  '@electric-sql/pglite',
  'ioredis',
  'prom-client',
  'fastify',
];
/** Everything the installed tarball may bring. */
const EXPECTED_TREE = ['@tessera/verifier', 'fastify-plugin', 'jose'];

const run = promisify(execFile);

/**
 * The environment without what npm puts there for the running script (npm test): a
 * child npm must work on its own folder, not on the project that started the tests.
 */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (
      /^npm_(package_|lifecycle_|command$|config_(local_prefix|workspaces?|include_workspace_root|prefix)$)/i.test(name)
    )
      delete env[name];
  }
  return env;
}

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', args, { cwd, env: childEnv(), timeout: 90_000, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

interface LsNode {
  version?: string;
  dependencies?: Record<string, LsNode>;
}

/** Every installed package in an `npm ls --all --json` tree (a missing optional peer is listed without a version). */
function namesIn(tree: LsNode, into = new Set<string>()): Set<string> {
  for (const [name, node] of Object.entries(tree.dependencies ?? {})) {
    if (node.version === undefined) continue;
    into.add(name);
    namesIn(node, into);
  }
  return into;
}

/** Every package folder under node_modules, nested ones too: what is on disk, whatever npm ls says. */
function onDisk(nodeModules: string, into = new Set<string>()): Set<string> {
  if (!existsSync(nodeModules)) return into;
  for (const entry of readdirSync(nodeModules)) {
    if (entry.startsWith('.')) continue;
    const names = entry.startsWith('@')
      ? readdirSync(join(nodeModules, entry)).map((inner) => `${entry}/${inner}`)
      : [entry];
    for (const name of names) {
      into.add(name);
      onDisk(join(nodeModules, name, 'node_modules'), into);
    }
  }
  return into;
}

const CONSUMER_SCRIPT = `
import { createVerifier, VerifierError } from '@tessera/verifier';
import tesseraAuthFastify from '@tessera/verifier/fastify';
import tesseraAuthExpress from '@tessera/verifier/express';

const { ISSUER: issuer, ACCESS_TOKEN: accessToken, REFRESH_TOKEN: refreshToken } = process.env;
const verifier = createVerifier({ issuer, audience: issuer });
const claims = await verifier.verify(accessToken);
let refreshCode;
try {
  await verifier.verify(refreshToken);
} catch (error) {
  refreshCode = error instanceof VerifierError ? error.code : String(error);
}
await verifier.close();
let deepImport;
try {
  await import('@tessera/verifier/dist/verify-jwt.js');
  deepImport = 'allowed';
} catch (error) {
  deepImport = error.code;
}
console.log(JSON.stringify({
  iss: claims.iss,
  sub: claims.sub,
  scope: claims.scope,
  refreshCode,
  resolved: import.meta.resolve('@tessera/verifier'),
  fastify: typeof tesseraAuthFastify,
  express: typeof tesseraAuthExpress,
  deepImport,
}));
`;

test(
  'the packed verifier installs on its own, without the server, and verifies a real Tessera token',
  { timeout: 120_000 },
  async (t) => {
    const work = mkdtempSync(join(tmpdir(), 'tessera-verifier-pack-'));
    t.after(() => rmSync(work, { recursive: true, force: true }));

    let started = performance.now();
    // prepack compiles the package, so the tarball holds exactly what a publish would.
    const [packed] = JSON.parse(await npm(['pack', '--json', '--pack-destination', work], PACKAGE_DIR)) as {
      filename: string;
      files: { path: string }[];
    }[];
    const packSeconds = (performance.now() - started) / 1000;
    const files = packed!.files.map((f) => f.path).sort();
    for (const entry of [
      'dist/index.js',
      'dist/index.d.ts',
      'dist/fastify.js',
      'dist/fastify.d.ts',
      'dist/express.js',
      'dist/express.d.ts',
      'README.md',
      'LICENSE',
      'package.json',
    ]) {
      assert.ok(files.includes(entry), `the tarball holds ${entry}`);
    }
    assert.deepEqual(
      files.filter((f) => !/^(dist\/[\w-]+\.(js|d\.ts)|README\.md|LICENSE|package\.json)$/.test(f)),
      [],
      'nothing but dist, README, LICENSE and package.json',
    );

    const consumer = join(work, 'consumer');
    mkdirSync(consumer);
    writeFileSync(
      join(consumer, 'package.json'),
      JSON.stringify({ name: 'resource-service', version: '1.0.0', private: true, type: 'module' }),
    );
    started = performance.now();
    await npm(['install', '--no-audit', '--no-fund', '--prefer-offline', join(work, packed!.filename)], consumer);
    const installSeconds = (performance.now() - started) / 1000;

    const installed = namesIn(JSON.parse(await npm(['ls', '--all', '--json'], consumer)) as LsNode);
    const disk = onDisk(join(consumer, 'node_modules'));
    for (const [where, names] of [
      ['npm ls', installed],
      ['node_modules', disk],
    ] as const) {
      assert.deepEqual(
        SERVER_ONLY.filter((name) => names.has(name)),
        [],
        `server dependencies in ${where}`,
      );
      assert.deepEqual(
        [...names].sort(),
        EXPECTED_TREE,
        `${where}: the verifier brings jose and fastify-plugin, nothing else`,
      );
    }
    const { stdout: du } = await run('du', ['-sk', join(consumer, 'node_modules')]);
    t.diagnostic(
      `installed node_modules: ${du.split('\t')[0]} KiB; npm pack ${packSeconds.toFixed(1)} s, npm install ${installSeconds.toFixed(1)} s`,
    );

    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const { app } = await build(t, { ISSUER: issuer, PORT: String(port) });
    await app.listen({ port, host: '127.0.0.1' });
    const { tokens } = await registerAndLogin(app);

    writeFileSync(join(consumer, 'verify.mjs'), CONSUMER_SCRIPT);
    const { stdout } = await run(process.execPath, ['verify.mjs'], {
      cwd: consumer,
      env: {
        PATH: process.env.PATH ?? '',
        ISSUER: issuer,
        ACCESS_TOKEN: tokens.access_token,
        REFRESH_TOKEN: tokens.refresh_token,
      },
      timeout: 30_000,
    });
    const result = JSON.parse(stdout) as Record<string, unknown>;
    assert.equal(result.iss, issuer);
    assert.equal(typeof result.sub, 'string');
    assert.match(String(result.scope), /\bprofile\b/);
    assert.equal(result.refreshCode, 'ERR_TYP', 'a refresh token is no access token');
    assert.ok(
      String(result.resolved).startsWith(`file://${join(consumer, 'node_modules', '@tessera', 'verifier')}/`),
      String(result.resolved),
    );
    assert.deepEqual(
      [result.fastify, result.express],
      ['function', 'function'],
      'both entry points load without Fastify or Express installed',
    );
    assert.equal(result.deepImport, 'ERR_PACKAGE_PATH_NOT_EXPORTED', 'only the exports map is reachable');
  },
);

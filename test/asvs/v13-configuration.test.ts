// ASVS 5.0 V13 (configuration): what the running service exposes beyond its documented
// routes (no TRACE, no directory listing, no API documentation, no source or repository
// files), what goes into the image, and whether every outbound destination is documented.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { build, type Built } from '../helpers/build.js';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

let built: Built;
before(async () => {
  // One app for the file, closed once every test has run.
  built = await build({ after: () => {} });
});
after(() => built.services.close());

const get = (url: string, method: 'GET' | 'TRACE' | 'HEAD' = 'GET') =>
  built.app.inject({ method, url, headers: { 'x-probe': 'probe-value-7f3a' } });

test('TRACE is not supported on any path', async () => {
  for (const url of [
    '/',
    '/healthz',
    '/readyz',
    '/userinfo',
    '/oauth/token',
    '/.well-known/openid-configuration',
    '/assets/tessera.css',
  ]) {
    const res = await get(url, 'TRACE');
    assert.ok([404, 405].includes(res.statusCode), `TRACE ${url}: ${res.statusCode}`);
    assert.doesNotMatch(res.body, /probe-value-7f3a/, `TRACE ${url} echoes nothing of the request`);
    assert.doesNotMatch(String(res.headers['content-type']), /message\/http/);
  }
  // The same paths answer their own methods, so the 404s above are TRACE's.
  assert.equal((await get('/healthz')).statusCode, 200);
});

test('no directory is listed: /assets and the folders around it answer 404', async () => {
  assert.equal((await get('/assets/tessera.css')).statusCode, 200, 'the stylesheet is served');
  for (const url of [
    '/assets',
    '/assets/',
    '/assets/./',
    '/assets/templates/',
    '/src/pages/assets/',
    '/static/',
    '/public/',
  ]) {
    const res = await get(url);
    assert.equal(res.statusCode, 404, `${url}: ${res.statusCode}`);
    assert.doesNotMatch(res.body, /tessera\.css|passkey\.js|Index of|<a href/i, `${url} lists nothing`);
  }
});

test('no source, package file or source control metadata is served', async () => {
  for (const url of [
    '/.git/config',
    '/.git/HEAD',
    '/.env',
    '/package.json',
    '/package-lock.json',
    '/README.md',
    '/src/app.ts',
    '/dist/app.js',
    '/keys/README.md',
    '/assets/../package.json',
    '/assets/%2e%2e/package.json',
    '/assets/..%2fpackage.json',
    '/assets/%2e%2e%2f%2e%2e%2f.git%2fconfig',
    '/assets/templates/login.eta',
  ]) {
    const res = await get(url);
    assert.ok([400, 404].includes(res.statusCode), `${url}: ${res.statusCode}`);
    assert.doesNotMatch(res.body, /"dependencies"|\[core\]|repositoryformatversion|import |<%/, `${url} leaks nothing`);
  }
});

test('no API documentation is served', async () => {
  for (const url of [
    '/docs',
    '/docs/',
    '/documentation',
    '/documentation/json',
    '/documentation/yaml',
    '/openapi.json',
    '/openapi.yaml',
    '/swagger.json',
    '/swagger-ui',
    '/api-docs',
  ]) {
    const res = await get(url);
    assert.equal(res.statusCode, 404, `${url}: ${res.statusCode}`);
    assert.doesNotMatch(res.body, /"openapi"|openapi:|swagger/i, `${url} holds no API description`);
  }
});

test('.dockerignore keeps source control metadata, tests and local secrets out of the image', () => {
  const ignored = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const entry of ['.git', '.github', 'test', 'bench', '.env', 'data', 'keys/*', 'node_modules', 'deploy'])
    assert.ok(ignored.includes(entry), `.dockerignore lists ${entry}`);
  // The image copies named paths only, never the whole context.
  const sources = read('Dockerfile')
    .split('\n')
    .filter((l) => /^COPY\s/.test(l) && !/--from=/.test(l))
    .flatMap((l) =>
      l
        .replace(/^COPY\s+/, '')
        .split(/\s+/)
        .slice(0, -1),
    );
  assert.ok(sources.length >= 5, sources.join(' '));
  for (const source of sources) {
    assert.notEqual(source, '.', 'COPY . would take the whole context');
    assert.doesNotMatch(source, /^(\.git|\.env|test|bench|keys|data|deploy|\.ci)(\/|$)/, source);
  }
});

test('every outbound destination setting is documented in the README', () => {
  const config = read('src/config/config.ts');
  const readme = read('README.md');
  const destinations = [...new Set([...config.matchAll(/^\s+([A-Z][A-Z0-9_]*_URL):/gm)].map((m) => m[1]!))];
  // The backends, the captcha provider, the alert webhook, the checkpoint witness, the
  // breached-password range API: every place Tessera connects to is one of these settings.
  for (const name of [
    'DATABASE_URL',
    'REDIS_URL',
    'SMTP_URL',
    'CAPTCHA_VERIFY_URL',
    'ALERT_WEBHOOK_URL',
    'AUDIT_CHECKPOINT_URL',
  ])
    assert.ok(destinations.includes(name), `${name} is a setting`);
  for (const name of destinations) assert.ok(readme.includes(`\`${name}\``), `README documents ${name}`);
});

test('the NetworkPolicy lets the pods reach only DNS, the databases, SMTP and HTTPS', () => {
  const policy = parse(read('deploy/kubernetes/networkpolicy.yaml')) as {
    spec: { policyTypes: string[]; egress: { ports?: { port: number; protocol: string }[]; to?: unknown[] }[] };
  };
  assert.ok(policy.spec.policyTypes.includes('Egress'), 'egress is restricted: what is not listed is refused');
  const ports = new Set<number>();
  for (const rule of policy.spec.egress) {
    assert.ok(rule.ports && rule.ports.length > 0, 'no rule opens every port');
    for (const p of rule.ports) ports.add(p.port);
  }
  // DNS, PostgreSQL, Redis, SMTPS, submission, and HTTPS for captcha, webhooks,
  // checkpoints and the breached-password API; plain HTTP (80) is not among them.
  assert.deepEqual(
    [...ports].sort((a, b) => a - b),
    [53, 443, 465, 587, 5432, 6379],
  );
});

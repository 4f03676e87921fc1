// The deployment files read the way a reviewer would, without a Docker engine or a cluster:
// the Dockerfile (one Node line, non-root, node as PID 1, the HEALTHCHECK, COPY sources),
// deploy/compose.yaml and deploy/nginx.conf (hardened instances, TRUST_PROXY the proxy's
// fixed address, the upstream the three instances, safe retries only), deploy/kubernetes/
// (probes, grace periods, selectors), every setting checked by Tessera's own config schema
// with its production rules, and no secret in any of them. `kubectl kustomize` runs too
// when kubectl is installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig, type Config } from '../../src/config/config.js';
import { ROOT } from '../helpers/cli.js';

const DEPLOY = join(ROOT, 'deploy');
const KUBERNETES = join(DEPLOY, 'kubernetes');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const pkg = JSON.parse(read('package.json')) as { version: string; license: string };

// ---------------------------------------------------------------- Dockerfile

interface Instruction {
  keyword: string;
  args: string;
}

/** Instructions with continuation lines joined; comments and blank lines dropped (Docker's rules). */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (!pending && !line)) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const whole = (pending + line).trim();
    pending = '';
    const [keyword = '', ...rest] = whole.split(/\s+/);
    out.push({ keyword: keyword.toUpperCase(), args: rest.join(' ') });
  }
  return out;
}

const dockerfile = instructions(read('Dockerfile'));
const firstFrom = dockerfile.findIndex((i) => i.keyword === 'FROM');
const stages: Instruction[][] = [];
for (const instruction of dockerfile.slice(firstFrom)) {
  if (instruction.keyword === 'FROM') stages.push([]);
  stages.at(-1)!.push(instruction);
}
const runtime = stages.at(-1)!;
const nodeImageArg = dockerfile
  .slice(0, firstFrom)
  .find((i) => i.keyword === 'ARG' && i.args.startsWith('NODE_IMAGE='));
const nodeImage = nodeImageArg?.args.slice('NODE_IMAGE='.length) ?? '';
const nodeLine = Number(/^node:(\d+)-[a-z]+-slim$/.exec(nodeImage)?.[1]);
/** What every Tessera image tag ends with: the Node line the image runs on. */
const tagSuffix = `-node${nodeLine}`;

/** The `--name=value` flags at the start of an instruction, and what follows them. */
function flags(args: string): { flags: Record<string, string>; rest: string } {
  const found: Record<string, string> = {};
  let rest = args;
  for (let m = /^--([a-z-]+)=(\S+)\s+/.exec(rest); m; m = /^--([a-z-]+)=(\S+)\s+/.exec(rest)) {
    found[m[1]!] = m[2]!;
    rest = rest.slice(m[0].length);
  }
  return { flags: found, rest };
}

test('the image: one Node LTS line for both stages, pinned by tag, in the labels and in every image tag', () => {
  assert.ok(
    Number.isInteger(nodeLine),
    `ARG NODE_IMAGE=node:<line>-<debian>-slim before the first FROM, got ${nodeImage}`,
  );
  // LTS lines are even; 20 reached its end of life in 2026-04 and 22 is in maintenance.
  assert.ok(nodeLine % 2 === 0 && nodeLine >= 24, `Node ${nodeLine} is not a current LTS line`);
  assert.equal(stages.length, 2);
  for (const stage of stages) assert.match(stage[0]!.args, /^\$\{NODE_IMAGE\} AS \w+$/);
  const labels = runtime
    .filter((i) => i.keyword === 'LABEL')
    .map((i) => i.args)
    .join(' ');
  for (const key of ['title', 'description', 'licenses', 'version', 'revision', 'created', 'source', 'base.name']) {
    assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${key.replace('.', '\\.')}=`), key);
  }
  assert.match(labels, /org\.opencontainers\.image\.base\.name="docker\.io\/library\/\$\{NODE_IMAGE\}"/);
  assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.licenses="${pkg.license}"`));
  assert.ok(
    runtime.some((i) => i.keyword === 'ARG' && i.args === `VERSION=${pkg.version}`),
    "ARG VERSION defaults to package.json's version",
  );
});

test('the image: production dependencies with argon2 built for it, non-root, node as PID 1 on SIGTERM', () => {
  const build = stages[0]!.filter((i) => i.keyword === 'RUN').map((i) => i.args);
  assert.ok(
    build.some((r) => r.includes('npm rebuild argon2')),
    'argon2 is built in the image',
  );
  assert.ok(
    build.some((r) => r.includes('npm prune --omit=dev')),
    'dev dependencies are pruned',
  );
  const env = runtime
    .filter((i) => i.keyword === 'ENV')
    .map((i) => i.args)
    .join(' ');
  assert.match(env, /NODE_ENV=production/);
  const userAt = runtime.findIndex((i) => i.keyword === 'USER');
  const cmdAt = runtime.findIndex((i) => i.keyword === 'CMD');
  assert.ok(userAt > 0 && userAt < cmdAt, 'USER before CMD');
  assert.match(runtime[userAt]!.args, /^[1-9]\d*:[1-9]\d*$/, 'a numeric non-root user and group');
  assert.ok(!runtime.some((i) => i.keyword === 'ENTRYPOINT'), 'no ENTRYPOINT wrapper between Docker and node');
  const cmd = JSON.parse(runtime[cmdAt]!.args) as string[];
  assert.deepEqual(cmd, ['node', 'bin/tessera.js', 'serve'], 'exec form: node itself is PID 1');
  assert.ok(existsSync(join(ROOT, cmd[1]!)), `${cmd[1]} exists`);
  assert.equal(runtime.find((i) => i.keyword === 'STOPSIGNAL')?.args, 'SIGTERM');
});

test('the HEALTHCHECK runs bin/healthcheck.js, and gives it more time than its own timeout', () => {
  const healthcheck = runtime.find((i) => i.keyword === 'HEALTHCHECK');
  assert.ok(healthcheck, 'a HEALTHCHECK');
  const { flags: options, rest } = flags(healthcheck.args);
  assert.match(rest, /^CMD \[/);
  const command = JSON.parse(rest.slice('CMD '.length)) as string[];
  assert.deepEqual(command, ['node', '/app/bin/healthcheck.js']);
  assert.ok(existsSync(join(ROOT, 'bin/healthcheck.js')), 'bin/healthcheck.js exists');
  assert.ok(seconds(options.timeout!) > 2, 'the script gives up after 2 s by default');
  assert.ok(
    runtime.some((i) => i.keyword === 'WORKDIR' && i.args === '/app'),
    'WORKDIR /app',
  );
  assert.ok(
    runtime.some((i) => i.keyword === 'COPY' && i.args === 'bin ./bin'),
    'bin/ is in the image',
  );
});

test('every COPY source is in the repository and not left out by .dockerignore', () => {
  const ignored = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#') && !l.startsWith('!'));
  const isIgnored = (path: string) =>
    ignored.some((pattern) =>
      pattern.startsWith('*.')
        ? path.endsWith(pattern.slice(1))
        : path === pattern.replace(/\/\*$/, '') || path.startsWith(`${pattern.replace(/\/\*$/, '')}/`),
    );
  const copies = stages.flat().filter((i) => i.keyword === 'COPY');
  assert.ok(copies.length > 5, 'COPY instructions found');
  for (const copy of copies) {
    const { flags: options, rest } = flags(copy.args);
    const sources = rest.split(/\s+/).slice(0, -1);
    for (const source of sources) {
      if (options.from) {
        // From the build stage: only what was copied into it from the repository can be checked.
        if (source.startsWith('/app/src/')) assert.ok(existsSync(join(ROOT, source.slice(5))), source);
        continue;
      }
      assert.ok(existsSync(join(ROOT, source)), `COPY ${source}: not in the repository`);
      assert.ok(!isIgnored(source), `COPY ${source}: excluded by .dockerignore`);
    }
  }
});

// ---------------------------------------------------------------- settings and sizing

/** Compose's interpolation: ${NAME:?message} and ${NAME} from values, ${NAME:-default}, $$. */
function interpolate(text: string, values: Record<string, string>): string {
  return text
    .replace(/\$\{([A-Z0-9_]+)(?::([?-])([^}]*))?\}/g, (_all, name: string, kind?: string, rest?: string) => {
      const value = values[name];
      if (kind === '-') return value || rest!;
      assert.ok(value, `${name} has no value in deploy/.env.example and no default`);
      return value;
    })
    .replace(/\$\$/g, '$');
}

/** deploy/.env.example, its empty placeholders filled with made-up values. */
function exampleEnv(): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of readFileSync(join(DEPLOY, '.env.example'), 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) values[m[1]!] = m[2]!;
  }
  return values;
}

function seconds(duration: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(duration);
  assert.ok(m && duration, `a duration like 40s: ${duration}`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

/** Compose (512M, 1g) and Kubernetes (512Mi, 1Gi) memory sizes, in MiB. */
function mebibytes(size: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(k|m|g|ki|mi|gi)?b?$/i.exec(size);
  assert.ok(m, `a memory size: ${size}`);
  const unit = (m[2] ?? '').toLowerCase().replace('i', '');
  return Number(m[1]) * ({ '': 1 / 2 ** 20, k: 1 / 1024, m: 1, g: 1024 } as Record<string, number>)[unit]!;
}

function cores(cpu: string): number {
  return cpu.endsWith('m') ? Number(cpu.slice(0, -1)) / 1000 : Number(cpu);
}

/**
 * The README's sizing: about 100 MiB of baseline (code, modules, young generation), the
 * old-space cap from NODE_OPTIONS, one ARGON2_MEMORY_KIB work area per concurrent hash, and
 * 64 MiB of headroom (sockets, TLS, PostgreSQL buffers).
 */
function memoryFloorMiB(config: Config, nodeOptions: string | undefined): number {
  const oldSpace = Number(/--max-old-space-size=(\d+)/.exec(nodeOptions ?? '')?.[1]);
  assert.ok(oldSpace > 0, 'NODE_OPTIONS caps the old space (--max-old-space-size), so the limit can be sized');
  return 100 + oldSpace + (config.argon2.memoryCost / 1024) * config.argon2.concurrency + 64;
}

// ---------------------------------------------------------------- compose and nginx

interface ComposeService {
  image?: string;
  build?: { context: string; args?: Record<string, string> };
  user?: string;
  read_only?: boolean;
  tmpfs?: string[];
  cap_drop?: string[];
  security_opt?: string[];
  environment?: Record<string, string>;
  secrets?: { source: string; target: string }[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  stop_signal?: string;
  stop_grace_period?: string;
  deploy?: { resources: { limits: { cpus?: string; memory: string }; reservations?: { cpus?: string } } };
  networks?: Record<string, { ipv4_address?: string } | null>;
  ports?: string[];
  volumes?: string[];
}
interface Compose {
  services: Record<string, ComposeService>;
  networks: Record<string, { internal?: boolean; ipam?: { config: { subnet: string }[] } }>;
  secrets: Record<string, { file: string }>;
  volumes: Record<string, unknown>;
}

const composeText = readFileSync(join(DEPLOY, 'compose.yaml'), 'utf8');
const compose = parse(composeText, { merge: true }) as Compose;
const instanceNames = Object.keys(compose.services).filter((name) =>
  compose.services[name]!.image?.startsWith('tessera:'),
);
const instances = instanceNames.map((name) => compose.services[name]!);
const proxy = compose.services.proxy!;
const [proxyNetwork, proxyAttachment] = Object.entries(proxy.networks ?? {})[0]!;
const proxyAddress = proxyAttachment?.ipv4_address ?? '';

/** Each instance's settings as `tessera serve` would get them from compose. */
function instanceConfig(service: ComposeService): Config {
  const values = exampleEnv();
  for (const name of ['POSTGRES_PASSWORD', 'REDIS_PASSWORD']) values[name] ||= randomBytes(24).toString('hex');
  const env = Object.fromEntries(
    Object.entries(service.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), values)]),
  );
  return loadConfig(env);
}

function ipv4(address: string): number {
  return address.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

test('compose: three Tessera instances, each non-root, read-only, without capabilities or new privileges', () => {
  assert.equal(instances.length, 3);
  for (const [i, service] of instances.entries()) {
    const name = instanceNames[i]!;
    assert.ok(service.image!.endsWith(tagSuffix), `${name}: the image tag names the Dockerfile's Node line`);
    assert.equal(service.build?.context, '..');
    assert.ok(existsSync(join(DEPLOY, service.build.context, 'Dockerfile')), 'the build context has the Dockerfile');
    assert.equal(service.build.args?.VERSION, pkg.version);
    assert.match(service.user ?? '', /^[1-9]\d*:[1-9]\d*$/, `${name}: a numeric non-root user`);
    assert.equal(service.read_only, true, `${name}: read-only root filesystem`);
    assert.ok(
      service.tmpfs?.some((t) => t.startsWith('/tmp:')),
      `${name}: /tmp on a tmpfs`,
    );
    assert.deepEqual(service.cap_drop, ['ALL']);
    assert.ok(service.security_opt?.includes('no-new-privileges:true'), `${name}: no-new-privileges`);
    assert.equal(service.stop_signal, 'SIGTERM');
  }
});

test("compose: the settings pass Tessera's production checks; TRUST_PROXY is exactly the proxy's fixed address", () => {
  const subnet = compose.networks[proxyNetwork]!.ipam!.config[0]!.subnet;
  const [base, bits] = subnet.split('/');
  const inSubnet = (address: string) => ipv4(address) >>> (32 - Number(bits)) === ipv4(base!) >>> (32 - Number(bits));
  assert.ok(proxyAddress && inSubnet(proxyAddress), `the proxy's address ${proxyAddress} is in ${subnet}`);
  for (const service of instances) {
    const config = instanceConfig(service);
    assert.equal(config.env, 'production');
    assert.deepEqual(config.trustProxy, [proxyAddress]);
    assert.ok(config.issuer.startsWith('https://'), 'an https ISSUER');
    assert.equal(config.database.kind, 'postgres');
    assert.equal(new URL((config.database as { url: string }).url).hostname, 'postgres');
    assert.equal(new URL(config.redisUrl!).hostname, 'redis');
    // The key comes from a compose secret, mounted where MASTER_KEY_FILE points.
    assert.equal(config.masterKey.kind, 'file');
    const secret = service.secrets!.find((s) => `/run/secrets/${s.target}` === service.environment!.MASTER_KEY_FILE);
    assert.ok(secret, 'MASTER_KEY_FILE is one of its secrets');
    assert.ok(compose.secrets[secret.source]!.file.startsWith('./secrets/'), 'the key file is in deploy/secrets/');
    assert.equal(service.environment!.MASTER_KEY, undefined);
  }
});

test('compose: healthy means ready, databases first, a stop grace above SHUTDOWN_DELAY + SHUTDOWN_TIMEOUT, limits from the sizing', () => {
  for (const service of instances) {
    const config = instanceConfig(service);
    assert.deepEqual(service.healthcheck!.test, ['CMD', 'node', '/app/bin/healthcheck.js', 'readyz']);
    assert.deepEqual(service.depends_on, {
      postgres: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
    });
    const { shutdownDelay, shutdownTimeout } = config.http;
    assert.ok(shutdownDelay > 0, 'nginx has no deregistration hook: the instance drains while still accepting');
    assert.ok(
      seconds(service.stop_grace_period!) > shutdownDelay + shutdownTimeout,
      `stop_grace_period ${service.stop_grace_period} above SHUTDOWN_DELAY + SHUTDOWN_TIMEOUT ${shutdownDelay + shutdownTimeout} s`,
    );
    const { limits, reservations } = service.deploy!.resources;
    const floor = memoryFloorMiB(config, service.environment!.NODE_OPTIONS);
    assert.ok(mebibytes(limits.memory) >= floor, `memory limit ${limits.memory}, the sizing needs ${floor} MiB`);
    assert.ok(config.argon2.concurrency <= cores(reservations!.cpus!), 'no more hashes at once than reserved cores');
  }
  const postgres = compose.services.postgres!;
  assert.match(postgres.image!, /^postgres:1[67]\b/);
  const [volume, path] = postgres.volumes![0]!.split(':');
  assert.equal(path, '/var/lib/postgresql/data');
  assert.ok(volume! in compose.volumes, 'a named volume');
  assert.equal(postgres.healthcheck!.test[1], 'pg_isready');
  assert.match(compose.services.redis!.healthcheck!.test.join(' '), /redis-cli .*ping/);
  for (const name of ['postgres', 'redis']) {
    // The short syntax, a list of names.
    assert.deepEqual(compose.services[name]!.networks, ['data']);
  }
  assert.equal(compose.networks.data!.internal, true, 'PostgreSQL and Redis have no way out');
});

const nginx = readFileSync(join(DEPLOY, 'nginx.conf'), 'utf8').replace(/#[^\n]*/g, '');
/** The arguments of every `directive ...;` in the text. */
const directives = (text: string, name: string) =>
  [...text.matchAll(new RegExp(`(?:^|[\\s;{}])${name}\\s+([^;{]*);`, 'g'))].map((m) => m[1]!.trim());

test('nginx: the upstream is the three instances, with passive health and keep-alive below KEEP_ALIVE_TIMEOUT', () => {
  const config = instanceConfig(instances[0]!);
  const upstream = /upstream\s+tessera\s*\{([^}]*)\}/.exec(nginx)?.[1];
  assert.ok(upstream, 'an upstream tessera block');
  const servers = directives(upstream, 'server');
  const expected = instances.map((service) => {
    const address = Object.values(service.networks!).find((n) => n?.ipv4_address)!.ipv4_address!;
    return `${address}:${config.port}`;
  });
  assert.deepEqual(servers.map((s) => s.split(/\s+/)[0]).sort(), expected.sort());
  assert.equal(new Set(expected).size, 3);
  for (const server of servers) assert.match(server, /\bmax_fails=\d+ fail_timeout=\d+s\b/);
  assert.ok(Number(directives(upstream, 'keepalive')[0]) > 0, 'keep-alive to the instances');
  const idle = seconds(directives(upstream, 'keepalive_timeout')[0]!);
  assert.ok(
    idle < config.http.keepAliveTimeout,
    `idle ${idle} s, Tessera's keep-alive ${config.http.keepAliveTimeout} s`,
  );
  assert.deepEqual(directives(nginx, 'proxy_pass'), ['http://tessera']);
  assert.deepEqual(directives(nginx, 'proxy_http_version'), ['1.1']);
  assert.ok(
    directives(nginx, 'proxy_set_header').includes('Connection ""'),
    'keep-alive: no Connection header passed on',
  );
});

test('nginx: retries only where nothing can run twice; X-Forwarded-For/-Proto set; no query string in the log', () => {
  const retries = directives(nginx, 'proxy_next_upstream');
  assert.equal(retries.length, 1);
  // Leaving out non_idempotent keeps nginx's rule: a POST that reached an instance is never resent.
  assert.deepEqual(retries[0]!.split(/\s+/).sort(), ['error', 'timeout']);
  assert.doesNotMatch(nginx, /non_idempotent/);
  assert.ok(Number(directives(nginx, 'proxy_next_upstream_tries')[0]) >= 2, 'a bounded number of tries');
  const headers = directives(nginx, 'proxy_set_header');
  assert.ok(
    headers.some((h) => /^X-Forwarded-For \$(remote_addr|proxy_add_x_forwarded_for)$/.test(h)),
    'X-Forwarded-For is set',
  );
  assert.ok(headers.includes('X-Forwarded-Proto $scheme'), 'X-Forwarded-Proto is set');
  const logFormat = /log_format\s+\w+\s+([^;]*);/.exec(nginx)?.[1] ?? '';
  assert.match(logFormat, /\$uri\b/);
  for (const leaky of [
    '$request ',
    '$request"',
    '$request_uri',
    '$args',
    '$query_string',
    '$http_authorization',
    '$http_cookie',
  ]) {
    assert.ok(!logFormat.includes(leaky), `the access log must not hold ${leaky.trim()}`);
  }
  // TLS from the compose secrets, and the proxy starts once every instance is ready.
  const targets = proxy.secrets!.map((s) => `/run/secrets/${s.target}`);
  for (const file of [...directives(nginx, 'ssl_certificate'), ...directives(nginx, 'ssl_certificate_key')]) {
    assert.ok(targets.includes(file), `${file} is one of the proxy's secrets`);
  }
  assert.ok(proxy.volumes!.includes('./nginx.conf:/etc/nginx/nginx.conf:ro'), 'the proxy runs deploy/nginx.conf');
  assert.ok(
    proxy.ports!.some((p) => p.endsWith(':8443')),
    'the TLS port is published',
  );
  for (const name of instanceNames) assert.equal(proxy.depends_on![name]?.condition, 'service_healthy');
  assert.equal(proxy.read_only, true);
  assert.deepEqual(proxy.cap_drop, ['ALL']);
});

// ---------------------------------------------------------------- Kubernetes

/** What `yaml` hands back: read field by field and asserted on, like a parsed JSON body. */
type Untyped = ReturnType<typeof JSON.parse>;

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Untyped;
  data?: Record<string, string>;
}

const kustomization = parse(readFileSync(join(KUBERNETES, 'kustomization.yaml'), 'utf8'));
const manifests: Manifest[] = (kustomization.resources as string[]).flatMap((file) =>
  parseAllDocuments(readFileSync(join(KUBERNETES, file), 'utf8')).map((d) => d.toJS() as Manifest),
);
const one = (kind: string) => {
  const found = manifests.filter((m) => m.kind === kind);
  assert.equal(found.length, 1, kind);
  return found[0]!;
};
const deployment = one('Deployment');
const pod = deployment.spec.template;
const podLabels = pod.metadata.labels as Record<string, string>;
const container = pod.spec.containers[0];
const selects = (selector: Record<string, string>) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => podLabels[k] === v);

/** The pods' settings: the ConfigMap, and made-up values where the Secret would give them. */
function podConfig(): Config {
  const configMap = one('ConfigMap');
  const env: Record<string, string> = { ...configMap.data };
  const samples: Record<string, string> = {
    DATABASE_URL: 'postgres://tessera:x@postgres.example:5432/tessera?sslmode=verify-full',
    MASTER_KEY: randomBytes(32).toString('base64'),
    REDIS_URL: 'rediss://:x@redis.example:6379/0',
  };
  for (const entry of container.env as { name: string; valueFrom?: { secretKeyRef?: { optional?: boolean } } }[]) {
    if (entry.valueFrom?.secretKeyRef && !entry.valueFrom.secretKeyRef.optional) env[entry.name] = samples[entry.name]!;
  }
  return loadConfig(env);
}

test('kubernetes: the kustomization lists every manifest, none names a namespace, no Secret is in the files', () => {
  const files = readdirSync(KUBERNETES)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .sort();
  assert.deepEqual([...(kustomization.resources as string[])].sort(), files);
  assert.equal(kustomization.namespace, undefined);
  for (const manifest of manifests) {
    assert.equal(manifest.metadata.namespace, undefined, `${manifest.kind} ${manifest.metadata.name}`);
    assert.notEqual(manifest.kind, 'Secret');
  }
  assert.deepEqual(
    kustomization.images.map((i: { name: string }) => i.name),
    ['tessera'],
  );
  assert.ok(kustomization.images[0].newTag.endsWith(tagSuffix), "the image tag names the Dockerfile's Node line");
  assert.ok(container.image.endsWith(tagSuffix), "the Deployment's tag names the Node line");
  assert.ok(container.image.startsWith('tessera:'), 'the name the kustomization rewrites');
});

test('kubernetes: three non-root, read-only pods without capabilities, RuntimeDefault seccomp, spread out', () => {
  assert.equal(deployment.spec.replicas, 3);
  assert.ok(selects(deployment.spec.selector.matchLabels), "the Deployment's selector matches its pods");
  const security = pod.spec.securityContext;
  assert.equal(security.runAsNonRoot, true);
  assert.ok(security.runAsUser > 0, 'a non-root uid');
  assert.equal(security.seccompProfile.type, 'RuntimeDefault');
  assert.equal(pod.spec.automountServiceAccountToken, false);
  assert.equal(pod.spec.containers.length, 1);
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  assert.equal(container.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
  const tmp = container.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/tmp');
  assert.ok(pod.spec.volumes.find((v: { name: string }) => v.name === tmp.name).emptyDir, '/tmp is an emptyDir');
  const spread = pod.spec.topologySpreadConstraints as { topologyKey: string; labelSelector: Untyped }[];
  assert.ok(
    spread.some((c) => c.topologyKey === 'kubernetes.io/hostname'),
    'spread across nodes',
  );
  for (const constraint of spread) {
    assert.ok(selects(constraint.labelSelector.matchLabels), `${constraint.topologyKey}: selects the pods`);
  }
});

test('kubernetes: probes on the right paths and port, a grace period above preStop + SHUTDOWN_TIMEOUT, sized limits', () => {
  const config = podConfig();
  assert.equal(config.env, 'production');
  assert.ok(config.issuer.startsWith('https://'), 'an https ISSUER');
  assert.ok(Array.isArray(config.trustProxy) && config.trustProxy.length > 0, 'TRUST_PROXY names addresses');
  const port = container.ports.find((p: { name: string }) => p.name === 'http');
  assert.equal(port.containerPort, config.port);
  const probe = (name: string) => container[name].httpGet as { path: string; port: string };
  assert.deepEqual(probe('startupProbe'), { path: '/healthz', port: 'http' });
  assert.deepEqual(probe('livenessProbe'), { path: '/healthz', port: 'http' });
  assert.deepEqual(probe('readinessProbe'), { path: '/readyz', port: 'http' });
  const preStop = container.lifecycle.preStop.sleep.seconds as number;
  assert.ok(preStop > 0, 'a preStop sleep');
  assert.ok(
    pod.spec.terminationGracePeriodSeconds > preStop + config.http.shutdownDelay + config.http.shutdownTimeout,
    `terminationGracePeriodSeconds above preStop ${preStop} s + SHUTDOWN_TIMEOUT ${config.http.shutdownTimeout} s`,
  );
  const { requests, limits } = container.resources;
  const floor = memoryFloorMiB(config, one('ConfigMap').data!.NODE_OPTIONS);
  assert.ok(mebibytes(limits.memory) >= floor, `memory limit ${limits.memory}, the sizing needs ${floor} MiB`);
  assert.ok(mebibytes(requests.memory) > 0 && cores(limits.cpu) >= cores(requests.cpu), 'requests within limits');
  assert.ok(config.argon2.concurrency <= cores(requests.cpu), 'no more hashes at once than requested cores');
  assert.deepEqual(
    container.envFrom.map((e: { configMapRef: { name: string } }) => e.configMapRef.name),
    [one('ConfigMap').metadata.name],
  );
});

test("kubernetes: the PDB, the Service and the NetworkPolicy select the Deployment's pods", () => {
  const pdb = one('PodDisruptionBudget');
  assert.ok(selects(pdb.spec.selector.matchLabels), "the PDB selects the Deployment's pods");
  assert.ok(
    pdb.spec.maxUnavailable === 1 || (pdb.spec.minAvailable >= 2 && pdb.spec.minAvailable < 3),
    'one pod at a time',
  );
  const service = one('Service');
  assert.ok(selects(service.spec.selector), "the Service selects the Deployment's pods");
  assert.deepEqual(
    service.spec.ports.map((p: { targetPort: string }) => p.targetPort),
    ['http'],
  );
  const policy = one('NetworkPolicy');
  assert.ok(selects(policy.spec.podSelector.matchLabels), "the NetworkPolicy selects the Deployment's pods");
  assert.deepEqual(policy.spec.policyTypes, ['Ingress', 'Egress']);
  for (const rule of policy.spec.ingress) {
    assert.ok(rule.from?.length > 0, 'ingress from named peers only');
    assert.deepEqual(
      rule.ports.map((p: { port: string }) => p.port),
      ['http'],
    );
  }
});

test(
  'kubernetes: `kubectl kustomize` builds the folder, with the image rewritten',
  {
    skip: spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status !== 0 && 'kubectl is not installed',
  },
  () => {
    const built = spawnSync('kubectl', ['kustomize', KUBERNETES], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(built.status, 0, built.stderr);
    const docs = parseAllDocuments(built.stdout).map((d) => d.toJS() as Manifest);
    assert.deepEqual(docs.map((d) => d.kind).sort(), manifests.map((m) => m.kind).sort());
    const image = docs.find((d) => d.kind === 'Deployment')!.spec.template.spec.containers[0].image as string;
    assert.equal(image, `${kustomization.images[0].newName}:${kustomization.images[0].newTag}`);
  },
);

// ---------------------------------------------------------------- secrets

/**
 * Every file of deploy/ that git would take (not deploy/.env, not what an operator put into
 * deploy/secrets/ to try compose: both are ignored, as checked below).
 */
function deployFiles(dir = DEPLOY): string[] {
  const all = (at: string): string[] =>
    readdirSync(at).flatMap((name) => {
      const path = join(at, name);
      return statSync(path).isDirectory() ? all(path) : [path];
    });
  const files = all(dir);
  const ignored = spawnSync('git', ['check-ignore', '--no-index', ...files], { cwd: ROOT, encoding: 'utf8' });
  const skip = new Set(
    ignored.stdout
      .split('\n')
      .filter(Boolean)
      .map((p) => join(ROOT, relative(ROOT, p))),
  );
  return files.filter((f) => !skip.has(f));
}

test('no secret value in any deployment file; secret settings come from .env, a compose secret or a Secret', () => {
  const files = [...deployFiles(), join(ROOT, 'Dockerfile'), join(ROOT, 'bin/healthcheck.js')];
  assert.ok(files.length >= 10, `${files.length} files`);
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const where = relative(ROOT, file);
    assert.doesNotMatch(text, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, where);
    assert.doesNotMatch(text, /whsec_[A-Za-z0-9+/]{16}/, where);
    // 32 bytes in base64 (a master key) or long hex (a made password).
    assert.doesNotMatch(text, /(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{43}=/, where);
    assert.doesNotMatch(text, /\b[0-9a-f]{32,}\b/, where);
    // Credentials in a URL only as ${...} interpolation or an all-caps placeholder.
    for (const [, password] of text.matchAll(/[a-z]+:\/\/[^\s:/@]*:([^\s@/]+)@/g)) {
      assert.match(password!, /^(\$\{[A-Z0-9_]+(:\?[^}]*)?\}|[A-Z_]+|x)$/, `${where}: ${password}`);
    }
  }
  // .env.example: every secret's value is left empty.
  for (const [name, value] of Object.entries(exampleEnv())) {
    if (/PASSWORD|SECRET|TOKEN|MASTER_KEY|_URL$/.test(name)) assert.equal(value, '', `${name} in .env.example`);
  }
  // compose: secret settings are interpolated from deploy/.env or are compose secrets.
  const secretish = /PASSWORD|SECRET|TOKEN|MASTER_KEY$|DATABASE_URL|REDIS_URL|SMTP_URL|WEBHOOK_URL|CHECKPOINT_URL/;
  for (const service of Object.values(compose.services)) {
    for (const [name, value] of Object.entries(service.environment ?? {})) {
      if (secretish.test(name)) assert.match(String(value), /\$\{[A-Z0-9_]+/, name);
    }
  }
  // Every variable compose reads is documented in .env.example.
  const documented = Object.keys(exampleEnv());
  for (const [, name] of composeText.matchAll(/\$\{([A-Z0-9_]+)/g)) assert.ok(documented.includes(name!), name!);
  // Kubernetes: the ConfigMap holds no secret setting; those are secretKeyRefs.
  for (const name of Object.keys(one('ConfigMap').data!)) assert.doesNotMatch(name, secretish, name);
  for (const entry of container.env as { name: string; value?: string }[]) {
    assert.equal(entry.value, undefined, `${entry.name}: a secretKeyRef, not a value`);
  }
  // A key or certificate put into deploy/secrets/ is ignored by git.
  for (const name of ['master.key', 'tls.key', 'tls.crt']) {
    const ignored = spawnSync('git', ['check-ignore', '-q', `deploy/secrets/${name}`], { cwd: ROOT });
    assert.equal(ignored.status, 0, `deploy/secrets/${name} is ignored by git`);
  }
});

test('nginx: TLS 1.2 and 1.3 only, TLS 1.2 with forward-secret AEAD suites only, in the server order', () => {
  assert.deepEqual(directives(nginx, 'ssl_protocols'), ['TLSv1.2 TLSv1.3']);
  assert.deepEqual(directives(nginx, 'ssl_prefer_server_ciphers'), ['on']);
  const ciphers = directives(nginx, 'ssl_ciphers');
  assert.equal(ciphers.length, 1, 'one explicit cipher list, not OpenSSL default');
  const suites = ciphers[0]!.split(':');
  assert.ok(suites.length >= 2);
  // No keyword (DEFAULT, HIGH, !aNULL ...) that could let a CBC or static-RSA suite back in.
  for (const suite of suites) {
    assert.match(suite, /^ECDHE-(ECDSA|RSA)-(AES(128-GCM-SHA256|256-GCM-SHA384)|CHACHA20-POLY1305)$/, suite);
  }
});

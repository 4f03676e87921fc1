// The README's crypto inventory and the SBOM, held to the code: every algorithm the sources
// call must be named in the "Crypto inventory" section, and `npm run sbom` must describe
// exactly the production packages of package-lock.json, which is what the image ships.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { getCiphers, getHashes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { getDefaultSupportedAlgorithmIDs } from '@simplewebauthn/server';
import { DEFAULT_ALGORITHMS, SUPPORTED_ALGORITHMS } from '@tessera/verifier';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
const run = promisify(execFile);

// ---------------------------------------------------------------- crypto inventory

/** The README section from its heading to the next level-2 heading. */
function section(markdown: string, title: string): string {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => line.trim() === `## ${title}`);
  assert.ok(start >= 0, `README.md has a "## ${title}" section`);
  const end = lines.findIndex((line, i) => i > start && /^## /.test(line));
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

/** `AES-256-GCM`, `aes-256-gcm` and `aes256gcm` are one name. */
const normalize = (name: string): string => name.toLowerCase().replace(/[-_]/g, '');

/** The algorithms `text` does not name as a word of its own (SHA-256 inside HMAC-SHA-256 does not count). */
function notNamedIn(text: string, algorithms: Iterable<string>): string[] {
  const words = normalize(text);
  return [...algorithms].filter((a) => !new RegExp(`(?<![a-z0-9])${normalize(a)}(?![a-z0-9])`).test(words));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.(ts|js)$/.test(entry.name))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}

const HASHES = new Set(getHashes().map(normalize));
const CIPHERS = new Set(getCiphers().map(normalize));
const KEY_TYPES = new Set(['ed25519', 'ed448', 'x25519', 'x448', 'rsa', 'rsapss', 'ec', 'dsa', 'dh']);

/**
 * node:crypto calls whose first argument names an algorithm, what the inventory calls it,
 * and what a real name looks like (so a quoted word that is not one, such as the 'EdDSA'
 * in `alg === 'EdDSA' ? 'sha512' : 'sha256'`, is not taken for one).
 */
const CALLS: { call: RegExp; name: (x: string) => string; valid: (x: string) => boolean }[] = [
  { call: /\bcreateHash\(/g, name: (x) => x, valid: (x) => HASHES.has(x) },
  { call: /\bcreateHmac\(/g, name: (x) => `hmac-${x}`, valid: (x) => HASHES.has(x) },
  { call: /\bcreate(?:Cipheriv|Decipheriv)\(/g, name: (x) => x, valid: (x) => CIPHERS.has(x) },
  { call: /\bhkdf(?:Sync)?\(/g, name: (x) => `hkdf-${x}`, valid: (x) => HASHES.has(x) },
  { call: /\bgenerateKeyPair(?:Sync)?\(/g, name: (x) => x, valid: (x) => KEY_TYPES.has(x) },
  // WebCrypto: subtle.digest('SHA-256', ...), subtle.generateKey({ name: 'AES-GCM', ... }).
  {
    call: /\bsubtle\.(?:digest|sign|verify|encrypt|decrypt|generateKey|importKey|deriveKey|deriveBits)\(/g,
    name: (x) => x,
    valid: () => true,
  },
];
/** Node's other key derivation functions, pbkdf2 and scrypt, named as such. */
const KDFS = /\b(pbkdf2|scrypt)(?:Sync)?\(/g;

interface Use {
  algorithm: string;
  where: string;
}

/** Every algorithm the sources name in a crypto call, with where; a call whose algorithm is not a literal fails. */
function algorithmsInCode(): Use[] {
  const uses: Use[] = [];
  const files = [...sourceFiles('src'), ...sourceFiles('packages/verifier/src'), ...sourceFiles('migrations')];
  for (const file of files) {
    const text = read(file);
    const at = (index: number) => `${file}:${text.slice(0, index).split('\n').length}`;
    for (const { call, name, valid } of CALLS) {
      for (const m of text.matchAll(call)) {
        // The first argument: up to the first comma or closing parenthesis.
        const argument = /^[^,)]*/.exec(text.slice(m.index + m[0].length))![0];
        const quoted = [...argument.matchAll(/'([^']+)'/g)].map((q) => q[1]!).filter((q) => valid(normalize(q)));
        // jose's generateKeyPair(alg, ...) takes a JOSE alg: SIGNING_ALG's choices, below.
        if (quoted.length === 0 && !/generateKeyPair\(/.test(m[0])) {
          assert.fail(
            `${at(m.index)}: ${m[0]}${argument}: name the algorithm as a literal, so the inventory test sees it`,
          );
        }
        for (const q of quoted) uses.push({ algorithm: name(q), where: at(m.index) });
      }
    }
    for (const m of text.matchAll(KDFS)) uses.push({ algorithm: m[1]!, where: at(m.index) });
    for (const m of text.matchAll(/\bargon2\.(argon2id|argon2i|argon2d)\b/g))
      uses.push({ algorithm: m[1]!, where: at(m.index) });
    // SQL: PostgreSQL's built-in digests (the prune lock is checked with sha256()).
    for (const m of text.matchAll(/\b(md5|sha224|sha256|sha384|sha512)\((?!\))/g))
      if (file.startsWith('migrations/')) uses.push({ algorithm: m[1]!, where: at(m.index) });
    if (/from 'otplib'/.test(text)) {
      // otplib's HMAC is SHA-1 unless an algorithm is passed.
      const chosen = [...text.matchAll(/\balgorithm:\s*'([\w-]+)'/g)].map((a) => a[1]!);
      for (const hash of chosen.length ? chosen : ['sha1']) uses.push({ algorithm: `hmac-${hash}`, where: file });
    }
  }
  // The signing algorithms SIGNING_ALG offers, and those the verifier kit accepts.
  const config = read('src/config/config.ts');
  const union = /SIGNING_ALG: Type\.Union\(\s*\[([^\]]*)\]/.exec(config)?.[1] ?? '';
  const signing = [...union.matchAll(/Type\.Literal\('([^']+)'\)/g)].map((m) => m[1]!);
  assert.ok(signing.length >= 1, 'SIGNING_ALG is a union of literals in src/config/config.ts');
  for (const alg of signing) uses.push({ algorithm: alg, where: 'src/config/config.ts (SIGNING_ALG)' });
  for (const alg of [...DEFAULT_ALGORITHMS, ...SUPPORTED_ALGORITHMS])
    uses.push({ algorithm: alg, where: 'packages/verifier/src/verify-jwt.ts' });
  return uses;
}

test('the crypto inventory names every algorithm the code uses', () => {
  const inventory = section(read('README.md'), 'Crypto inventory');
  const uses = algorithmsInCode();
  const found = new Set(uses.map((u) => normalize(u.algorithm)));
  // The scan itself works: the algorithms everything rests on are among what it found.
  for (const core of ['sha256', 'hmacsha256', 'aes256gcm', 'hkdfsha256', 'ed25519', 'argon2id', 'es256', 'hmacsha1'])
    assert.ok(found.has(core), `the scan finds ${core} in the sources`);
  // And the matching tells names apart: HMAC-SHA-256 does not name SHA-256, nor SHA-256 SHA-1.
  assert.deepEqual(notNamedIn('| HMAC-SHA-256 | SHA-256 |', ['hmac-sha256', 'sha256', 'sha1', 'sha512']), [
    'sha1',
    'sha512',
  ]);

  const missing = notNamedIn(inventory, found);
  const where = (algorithm: string) =>
    uses
      .filter((u) => normalize(u.algorithm) === algorithm)
      .map((u) => u.where)
      .slice(0, 3)
      .join(', ');
  assert.deepEqual(
    missing.map((a) => `${a} (${where(a)})`),
    [],
    'every algorithm is named in the README "Crypto inventory" section',
  );

  // Passkeys: the COSE algorithms the WebAuthn library accepts here (its defaults: src/
  // passes no list of its own), by their COSE numbers.
  const webauthn = read('src/mfa/webauthn.ts');
  assert.ok(!/supportedAlgorithmIDs/.test(webauthn), 'src/mfa/webauthn.ts uses the default COSE algorithms');
  for (const id of getDefaultSupportedAlgorithmIDs())
    assert.ok(inventory.includes(`(${id})`), `the inventory names COSE algorithm ${id} as "(${id})"`);
});

// ---------------------------------------------------------------- SBOM

/**
 * The environment without what npm puts there for the running script (npm test), so the
 * child npm reads this project's own settings.
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

interface Component {
  name: string;
  group?: string;
  version: string;
  purl?: string;
  components?: Component[];
}

interface LockEntry {
  version?: string;
  dev?: boolean;
  link?: boolean;
  resolved?: string;
}

test('npm run sbom writes a CycloneDX document from the lockfile', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-sbom-'));
  try {
    const file = join(dir, 'sbom.cdx.json');
    await run('npm', ['run', '--silent', 'sbom'], {
      cwd: ROOT,
      env: { ...childEnv(), SBOM_FILE: file },
      timeout: 60_000,
    });
    const bom = JSON.parse(readFileSync(file, 'utf8')) as {
      bomFormat: string;
      specVersion: string;
      metadata: { component: { name: string; version: string; type: string } };
      components: Component[];
    };
    const pkg = JSON.parse(read('package.json')) as { name: string; version: string };
    const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, LockEntry> };

    assert.equal(bom.bomFormat, 'CycloneDX');
    assert.equal(bom.specVersion, '1.6');
    const { name, version, type } = bom.metadata.component;
    assert.deepEqual({ name, version, type }, { name: pkg.name, version: pkg.version, type: 'application' });
    assert.equal(pkg.name, 'tessera');

    // Every component by its place in node_modules (nested components sit in their parent's
    // node_modules), with its version.
    const listed = new Map<string, string>();
    const walk = (components: Component[] | undefined, prefix: string) => {
      for (const c of components ?? []) {
        const path = `${prefix}node_modules/${c.group ? `${c.group}/` : ''}${c.name}`;
        listed.set(path, c.version);
        assert.ok(c.purl?.startsWith('pkg:npm/'), `${path} has a package URL`);
        walk(c.components, `${path}/`);
      }
    };
    walk(bom.components, '');

    const versionOf = (entry: LockEntry) => (entry.link ? lock.packages[entry.resolved!]?.version : entry.version);
    const shipped = new Map(
      Object.entries(lock.packages)
        .filter(([path, entry]) => path.startsWith('node_modules/') && !entry.dev)
        .map(([path, entry]) => [path, versionOf(entry)]),
    );
    for (const name of ['fastify', 'jose', 'argon2', '@tessera/verifier'])
      assert.equal(listed.get(`node_modules/${name}`), shipped.get(`node_modules/${name}`), name);
    for (const dev of ['eslint', 'typescript', 'tsx', '@cyclonedx/cyclonedx-npm'])
      assert.ok(lock.packages[`node_modules/${dev}`]?.dev && !listed.has(`node_modules/${dev}`), `${dev}: dev only`);
    // Exactly the production packages of the lockfile, at their locked versions.
    const sorted = (m: Map<string, string | undefined>) => [...m].sort(([a], [b]) => (a < b ? -1 : 1));
    assert.deepEqual(sorted(listed), sorted(shipped));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // The image makes the same document in its build stage and ships it where its label says.
  const dockerfile = read('Dockerfile').replace(/\\\n/g, ' ');
  const label = /io\.tessera\.sbom="([^"]+)"/.exec(dockerfile)?.[1];
  assert.equal(label, '/app/sbom.cdx.json');
  const made = dockerfile.search(/^RUN npm run sbom\b/m);
  assert.ok(made > 0 && made < dockerfile.search(/^RUN .*npm prune\b/m), 'RUN npm run sbom, before the prune');
  assert.match(dockerfile, /^COPY --from=build \/app\/sbom\.cdx\.json \.\/$/m);
  assert.match(dockerfile, /^WORKDIR \/app$/m);
});

// ASVS 5.0 V11 (cryptography) as properties of the source: where cryptography comes from,
// which cipher, hashes and random sources the code names, and how strong the keys it
// makes are. The scans read every source file of the server, its commands and the
// verifier package, so a new call with a weaker choice fails here until it is justified.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { generateSigningKey } from '../../src/domain/keys/key-material.js';
import { SecretBox } from '../../src/crypto/secret-box.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SOURCE_DIRS = ['src', 'bin', 'packages/verifier/src'];

function sourceFiles(): { path: string; text: string }[] {
  const files: { path: string; text: string }[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.(ts|js|mjs|cjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts'))
        files.push({ path: relative(ROOT, full), text: readFileSync(full, 'utf8') });
    }
  };
  for (const dir of SOURCE_DIRS) walk(join(ROOT, dir));
  return files;
}
const FILES = sourceFiles();

/** Every call of `name(` with the text of its first argument, by file. */
function firstArguments(name: string): { path: string; arg: string }[] {
  const found: { path: string; arg: string }[] = [];
  const pattern = new RegExp(`\\b${name}\\(([^,)]*)`, 'g');
  for (const { path, text } of FILES) for (const m of text.matchAll(pattern)) found.push({ path, arg: m[1]!.trim() });
  return found;
}
const literals = (arg: string) => [...arg.matchAll(/'([^']*)'|"([^"]*)"/g)].map((m) => (m[1] ?? m[2])!.toLowerCase());

test('cryptography comes only from node:crypto, jose, argon2, otplib and @simplewebauthn/server', () => {
  assert.ok(FILES.length > 100, `read ${FILES.length} source files`);
  const specifiers = new Set<string>();
  for (const { text } of FILES)
    for (const m of text.matchAll(/(?:from\s+|import\(\s*|require\(\s*)['"]([^'"]+)['"]/g)) specifiers.add(m[1]!);
  const packages = [...specifiers]
    .filter((s) => !s.startsWith('.'))
    .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!));
  const cryptographic =
    /crypt|jwt|jws|jwk|jose|argon|scrypt|pbkdf|hash|sha|md5|aes|hmac|otp|sodium|nacl|forge|webauthn|elliptic|secp|rsa|random|uuid/i;
  const used = [...new Set(packages.filter((p) => cryptographic.test(p)))].sort();
  assert.deepEqual(used, ['@simplewebauthn/server', 'argon2', 'jose', 'node:crypto', 'otplib']);
  assert.ok(!specifiers.has('crypto'), "node's crypto is imported as node:crypto");
  // Each of them is a declared, locked dependency: what is audited is what runs.
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  const verifier = JSON.parse(readFileSync(join(ROOT, 'packages/verifier/package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  for (const name of used.filter((p) => !p.startsWith('node:')))
    assert.ok(manifest.dependencies[name] ?? verifier.dependencies[name], `${name} is a declared dependency`);
});

test('the only cipher is AES-256-GCM, with a fresh 96-bit IV per seal', () => {
  const calls = [...firstArguments('createCipheriv'), ...firstArguments('createDecipheriv')];
  assert.ok(calls.length >= 2, 'the secret box seals and opens');
  for (const { path, arg } of calls) assert.deepEqual(literals(arg), ['aes-256-gcm'], `${path}: ${arg}`);
  for (const { path, text } of FILES) {
    assert.doesNotMatch(text, /\bcreateCipher\(|\bcreateDecipher\(/, `${path}: the deprecated IV-less API`);
    assert.doesNotMatch(text, /-ecb\b|-cbc\b|\bdes-|\brc4\b/i, `${path}: no ECB, CBC, DES or RC4`);
    assert.doesNotMatch(
      text,
      /\b(public|private)(En|De)crypt\(|RSA_PKCS1_PADDING|RSA1_5/,
      `${path}: no RSA encryption`,
    );
  }
  const box = SecretBox.fromKey(randomBytes(32));
  const ivs = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const [, , iv] = box.seal('the same plaintext', 'aad').split('.');
    assert.equal(Buffer.from(iv!, 'base64url').length, 12);
    ivs.add(iv!);
  }
  assert.equal(ivs.size, 50, 'no IV twice');
});

test('hashes and MACs are SHA-256 or stronger; SHA-1 only where a protocol fixes it', () => {
  const STRONG = ['sha256', 'sha384', 'sha512'];
  // The Have I Been Pwned range API is defined over SHA-1 prefixes (k-anonymity, not a
  // security property of the hash); nothing else may name SHA-1.
  const SHA1_ALLOWED = ['src/domain/passwords/breached.ts'];
  const calls = [...firstArguments('createHash'), ...firstArguments('createHmac'), ...firstArguments('hkdfSync')];
  assert.ok(calls.length >= 15, `${calls.length} hash calls found`);
  for (const { path, arg } of calls) {
    // A ternary names several (the EdDSA at_hash is SHA-512); other literals are no hashes.
    const algs = literals(arg).filter((l) => /^(sha|md|ripemd|blake|whirlpool|shake)/.test(l));
    assert.ok(algs.length > 0, `${path}: the algorithm of ${arg} is a literal`);
    for (const alg of algs) {
      if (alg === 'sha1' && SHA1_ALLOWED.includes(path)) continue;
      assert.ok(STRONG.includes(alg), `${path}: ${alg}`);
    }
  }
  for (const { path, text } of FILES) assert.doesNotMatch(text, /['"](md5|md4|ripemd160|sha224)['"]/i, path);
  // JWKS thumbprints and PKCE are SHA-256 too.
  for (const { path, arg } of firstArguments('calculateJwkThumbprint')) assert.ok(arg.length > 0, path);
  assert.ok(
    FILES.filter((f) => f.text.includes('calculateJwkThumbprint(')).every(
      (f) => !/calculateJwkThumbprint\([^)]*'sha1'/.test(f.text),
    ),
  );
});

test('random values come from node:crypto; Math.random only jitters retry delays', () => {
  const users = FILES.filter((f) => /Math\.random/.test(f.text)).map((f) => f.path);
  assert.deepEqual(users, ['src/audit/webhook.ts'], 'the webhook retry jitter, which guards nothing');
  const webhook = FILES.find((f) => f.path === 'src/audit/webhook.ts')!.text;
  assert.equal([...webhook.matchAll(/Math\.random/g)].length, 1);
  assert.match(webhook, /retryDelayMs\(.*Math\.random/);
  // Secrets are at least 128 bits: every randomBytes(n) asks for 16 bytes or more, except
  // values that are no bearer secret: GCM IVs (96 bits by design), the members of a
  // counter's sorted set, and recovery codes, which are ASVS 6.5 lookup secrets (50 bits,
  // single use, counted like failed logins, stored as keyed hashes).
  const SHORTER = new Map([
    ['src/crypto/secret-box.ts', 12],
    ['src/defences/attempt-counter.ts', 12],
    ['src/domain/mfa/recovery-codes.ts', 10],
  ]);
  const sizes = firstArguments('randomBytes').filter(({ arg }) => Number.isInteger(Number(arg)));
  assert.ok(sizes.length >= 10, `${sizes.length} sized randomBytes calls`);
  for (const { path, arg } of sizes) {
    const n = Number(arg);
    if (SHORTER.get(path) === n) continue;
    assert.ok(n >= 16, `${path}: randomBytes(${n})`);
  }
});

test('every signing key Tessera makes gives at least 128-bit security', async () => {
  const es = await generateSigningKey('ES256');
  assert.equal(es.publicJwk.crv, 'P-256');
  const ed = await generateSigningKey('EdDSA');
  assert.equal(ed.publicJwk.crv, 'Ed25519');
  for (const alg of ['RS256', 'PS256'] as const) {
    const rsa = await generateSigningKey(alg);
    const bits = Buffer.from(String(rsa.publicJwk.n), 'base64url').length * 8;
    assert.ok(bits >= 3072, `${alg}: ${bits}-bit modulus`);
    assert.equal(rsa.publicJwk.e, 'AQAB');
  }
  // The master key and what is derived from it are 256-bit.
  assert.throws(() => SecretBox.fromKey(randomBytes(16)), /32 bytes/);
  for (const { path, text } of FILES)
    for (const m of text.matchAll(/hkdfSync\([^)]*?,\s*(\d+)\)/g)) assert.ok(Number(m[1]) >= 32, `${path}: ${m[0]}`);
});

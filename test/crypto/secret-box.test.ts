// SecretBox (AES-256-GCM bound to its AAD) and the master key it is opened with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/config/config.js';
import { SecretBox, masterKeyId } from '../../src/crypto/secret-box.js';
import { decodeMasterKey, loadMasterKey } from '../../src/crypto/master-key.js';

const box = SecretBox.fromKey(randomBytes(32));
const AAD = 'signing_keys:kid-1:private_jwk';

// The sealed form is `v1.<master key id>.<iv>.<ciphertext+tag>`, all base64url.
const IV = 2;
const BODY = 3;

function segment(sealed: string, index: number): string {
  return sealed.split('.')[index] ?? '';
}

function withSegment(sealed: string, index: number, value: string): string {
  const parts = sealed.split('.');
  parts[index] = value;
  return parts.join('.');
}

/** Flips one bit of the first byte of the base64url segment at `index`. */
function flip(sealed: string, index: number): string {
  const bytes = Buffer.from(segment(sealed, index), 'base64url');
  bytes[0] = (bytes[0] ?? 0) ^ 0x01;
  return withSegment(sealed, index, bytes.toString('base64url'));
}

test('seal then open gives the plaintext back', () => {
  const secret = JSON.stringify({ kty: 'EC', d: 'private-part' });
  const sealed = box.seal(secret, AAD);
  assert.match(sealed, /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  assert.equal(SecretBox.sealedWith(sealed), box.keyId);
  assert.ok(!sealed.includes('private-part'));
  assert.equal(box.open(sealed, AAD).toString('utf8'), secret);
  const binary = randomBytes(100);
  assert.deepEqual(box.open(box.seal(binary, AAD), AAD), binary);
});

test('a ciphertext opened under another AAD fails', () => {
  const sealed = box.seal('secret', AAD);
  assert.throws(() => box.open(sealed, 'signing_keys:kid-2:private_jwk'));
  assert.throws(() => box.open(sealed, ''));
});

test('tampering with the iv, the ciphertext or the tag fails', () => {
  const sealed = box.seal('a secret long enough to have a body', AAD);
  assert.equal(box.open(sealed, AAD).toString(), 'a secret long enough to have a body');
  assert.throws(() => box.open(flip(sealed, IV), AAD), 'iv');
  assert.throws(() => box.open(flip(sealed, BODY), AAD), 'ciphertext');
  const body = Buffer.from(segment(sealed, BODY), 'base64url');
  body[body.length - 1] = (body[body.length - 1] ?? 0) ^ 0x80;
  assert.throws(() => box.open(withSegment(sealed, BODY, body.toString('base64url')), AAD), 'tag');
});

test('malformed or truncated sealed strings fail', () => {
  const sealed = box.seal('secret', AAD);
  const [, id, iv, body] = sealed.split('.');
  assert.throws(() => box.open(`v2.${id}.${iv}.${body}`, AAD), /format/);
  assert.throws(() => box.open(`v1.${id}.${iv}`, AAD), /format/);
  assert.throws(() => box.open(`${sealed}.extra`, AAD), /format/);
  assert.throws(() => box.open('', AAD), /format/);
  assert.throws(() => box.open(withSegment(sealed, BODY, Buffer.alloc(15).toString('base64url')), AAD), /truncated/);
  // A 16-byte body is a bare tag (empty plaintext): not truncated, but it must still authenticate.
  assert.throws(() => box.open(withSegment(sealed, BODY, Buffer.alloc(16).toString('base64url')), AAD));
  assert.throws(() => box.open(withSegment(sealed, IV, 'AAAA'), AAD), /truncated/);
});

test('a different key cannot open it, even when the key id is forged', () => {
  const sealed = box.seal('secret', AAD);
  const other = SecretBox.fromKey(randomBytes(32));
  assert.throws(() => other.open(sealed, AAD), /not configured/);
  assert.throws(() => other.open(withSegment(sealed, 1, other.keyId), AAD), 'GCM authentication fails');
});

test('during a master key rotation the previous key still opens, the primary seals', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const sealedOld = SecretBox.fromKey(oldKey).seal('secret', AAD);
  const rotating = SecretBox.fromKey(newKey, [oldKey]);
  assert.equal(rotating.open(sealedOld, AAD).toString(), 'secret');
  const resealed = rotating.seal('secret', AAD);
  assert.equal(SecretBox.sealedWith(resealed), masterKeyId(newKey));
  assert.equal(SecretBox.sealedWith(sealedOld), masterKeyId(oldKey));
  assert.throws(() => SecretBox.fromKey(newKey).open(sealedOld, AAD), 'without the previous key it cannot');
  assert.notEqual(masterKeyId(newKey), masterKeyId(oldKey));
  assert.ok(!masterKeyId(newKey).includes(newKey.toString('base64url').slice(0, 8)), 'the id is not the key');
  assert.throws(() => SecretBox.fromKey(newKey, [randomBytes(16)]), 'previous keys must be 32 bytes too');
});

test('two seals of the same plaintext differ', () => {
  const a = box.seal('same', AAD);
  const b = box.seal('same', AAD);
  assert.notEqual(a, b);
  assert.notEqual(segment(a, IV), segment(b, IV), 'a fresh iv each time');
});

test('only 32-byte keys are accepted, and the key is copied', () => {
  assert.throws(() => SecretBox.fromKey(randomBytes(16)));
  assert.throws(() => SecretBox.fromKey(randomBytes(33)));
  const key = randomBytes(32);
  const mine = SecretBox.fromKey(key);
  const sealed = mine.seal('secret', AAD);
  key.fill(0);
  assert.equal(mine.open(sealed, AAD).toString(), 'secret');
});

// --- master key -------------------------------------------------------------------------

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-master-key-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('outside production a missing key file is created with mode 0600 and reused', (t) => {
  const path = join(tempDir(t), 'keys', 'master.key');
  const key = loadMasterKey({ env: 'development', masterKey: { kind: 'file', path, explicit: false } });
  assert.equal(key.length, 32);
  assert.ok(existsSync(path));
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.deepEqual(Buffer.from(readFileSync(path, 'utf8').trim(), 'base64'), key);
  const again = loadMasterKey({ env: 'development', masterKey: { kind: 'file', path, explicit: false } });
  assert.deepEqual(again, key, 'a second start reads the same key');
});

test('a key file readable by group or others is refused', (t) => {
  const path = join(tempDir(t), 'master.key');
  writeFileSync(path, randomBytes(32).toString('base64'), { mode: 0o600 });
  for (const mode of [0o640, 0o604, 0o644, 0o660]) {
    chmodSync(path, mode);
    assert.throws(
      () => loadMasterKey({ env: 'development', masterKey: { kind: 'file', path, explicit: true } }),
      (error: unknown) =>
        error instanceof ConfigError && error.variable === 'MASTER_KEY_FILE' && /chmod 600/.test(error.message),
      `mode ${mode.toString(8)}`,
    );
  }
  chmodSync(path, 0o400);
  assert.equal(loadMasterKey({ env: 'development', masterKey: { kind: 'file', path, explicit: true } }).length, 32);
});

test('a key file that is not 32 bytes of base64 is refused', (t) => {
  const dir = tempDir(t);
  for (const [name, content] of [
    ['short.key', randomBytes(16).toString('base64')],
    ['long.key', randomBytes(48).toString('base64')],
    ['text.key', 'this is not base64 at all!'],
    ['empty.key', ''],
  ] as const) {
    const path = join(dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    assert.throws(
      () => loadMasterKey({ env: 'development', masterKey: { kind: 'file', path, explicit: true } }),
      (error: unknown) => error instanceof ConfigError && error.variable === 'MASTER_KEY_FILE',
      name,
    );
  }
});

test('production refuses a missing key file instead of creating one', (t) => {
  const path = join(tempDir(t), 'master.key');
  assert.throws(
    () => loadMasterKey({ env: 'production', masterKey: { kind: 'file', path, explicit: true } }),
    (error: unknown) => error instanceof ConfigError && error.variable === 'MASTER_KEY_FILE',
  );
  assert.equal(existsSync(path), false);
});

test('MASTER_KEY takes base64 or base64url of exactly 32 bytes', () => {
  const key = randomBytes(32);
  assert.deepEqual(
    loadMasterKey({ env: 'production', masterKey: { kind: 'value', value: key.toString('base64') } }),
    key,
  );
  assert.deepEqual(decodeMasterKey(`${key.toString('base64url')}\n`, 'MASTER_KEY'), key);
  assert.throws(
    () => decodeMasterKey(randomBytes(31).toString('base64'), 'MASTER_KEY'),
    (e: unknown) => e instanceof ConfigError && e.variable === 'MASTER_KEY',
  );
  assert.throws(() => decodeMasterKey('not base64!', 'MASTER_KEY'), ConfigError);
});

// Signed checkpoints: a real sum.golang.org checkpoint verifies (so our notes and key hashes
// are C2SP's), our own round-trip, and every tampering or malformation is refused by code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import {
  CheckpointError,
  formatCheckpoint,
  noteKeyHash,
  parseSignedCheckpoint,
  parseVerifierKey,
  signCheckpoint,
  verifierKey,
  verifyCheckpoint,
  type CheckpointErrorCode,
  type NoteSignature,
} from '../../src/domain/audit/checkpoint.js';

// Published by the Go checksum database (the verifier key is the one built into the go command).
const SUMDB_VKEY = 'sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8';
const SUMDB_CHECKPOINT =
  'go.sum database tree\n63096908\n8lHrQPRYe4KT4WQ9/Qk8/taKnD6IRHbFgfN7vQE2Y54=\n\n' +
  '\u2014 sum.golang.org Az3gri/oVBN1jAhNZ/iS+W31psFAWRT20/GyrhpU6taFwulQGetBkH5S7wpGXdS935jiIGiUUAXBVHzT/P6fYhqAmAk=\n';
// From golang.org/x/mod/sumdb/note's tests.
const GO_NOTE_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';

const NAME = 'tessera.example/audit';
const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const ROOT = new Uint8Array(32).map((_, i) => i * 7);
const AT = new Date('2026-12-02T02:00:00.000Z');
const body = formatCheckpoint({ origin: 'tessera.example/audit-log', size: 1234, rootHash: ROOT, timestamp: AT });
const signed = signCheckpoint(body, { name: NAME, privateKey });
const verifier = { name: NAME, publicKey };

const fails = (code: CheckpointErrorCode, run: () => unknown, message?: string): void => {
  assert.throws(run, (error: unknown) => error instanceof CheckpointError && error.code === code, message);
};

test('a checkpoint published by sum.golang.org verifies with its verifier key', () => {
  const sumdb = parseVerifierKey(SUMDB_VKEY);
  assert.equal(sumdb.name, 'sum.golang.org');
  assert.equal(verifierKey(sumdb.name, sumdb.publicKey), SUMDB_VKEY);
  const checkpoint = verifyCheckpoint(SUMDB_CHECKPOINT, sumdb);
  assert.equal(checkpoint.origin, 'go.sum database tree');
  assert.equal(checkpoint.size, 63096908);
  assert.equal(Buffer.from(checkpoint.rootHash).toString('base64'), '8lHrQPRYe4KT4WQ9/Qk8/taKnD6IRHbFgfN7vQE2Y54=');
  fails('ERR_CHECKPOINT_SIGNATURE', () => verifyCheckpoint(SUMDB_CHECKPOINT.replace('63096908', '63096909'), sumdb));
  // A second vector for the key hash, from Go's note package.
  const go = parseVerifierKey(GO_NOTE_VKEY);
  assert.equal(noteKeyHash(go.name, go.publicKey).toString('hex'), 'c74f20a3');
});

test('the body is the C2SP layout, with the timestamp as an extension line', () => {
  assert.equal(
    body,
    `tessera.example/audit-log\n1234\n${Buffer.from(ROOT).toString('base64')}\ntimestamp 2026-12-02T02:00:00.000Z\n`,
  );
  const [, signature] = signed.split('\n\n');
  const hash = verifierKey(NAME, publicKey).split('+')[1];
  assert.match(signature ?? '', /^\u2014 tessera\.example\/audit [A-Za-z0-9+/]{91}=\n$/);
  assert.equal(
    Buffer.from(signature?.split(' ')[2] ?? '', 'base64')
      .subarray(0, 4)
      .toString('hex'),
    hash,
  );
});

test('sign and verify round-trip, also with extensions and another key signing too', () => {
  const checkpoint = verifyCheckpoint(signed, verifier);
  assert.equal(checkpoint.origin, 'tessera.example/audit-log');
  assert.equal(checkpoint.size, 1234);
  assert.deepEqual(checkpoint.rootHash, ROOT);
  assert.deepEqual(checkpoint.timestamp, AT);
  assert.deepEqual(checkpoint.extensions, []);
  assert.equal(checkpoint.body, body);

  const withExtensions = formatCheckpoint({ origin: 'o', size: 0, rootHash: ROOT, extensions: ['x y z', 'more'] });
  const other = generateKeyPairSync('ed25519');
  const cosigned =
    signCheckpoint(withExtensions, { name: 'witness', privateKey: other.privateKey }) +
    signCheckpoint(withExtensions, { name: NAME, privateKey }).split('\n\n')[1];
  const parsed = verifyCheckpoint(cosigned, verifier);
  assert.deepEqual(parsed.extensions, ['x y z', 'more']);
  assert.equal(parsed.timestamp, undefined);
  assert.equal(parsed.signatures.length, 2);
  const witness: NoteSignature | undefined = parsed.signatures[0];
  assert.equal(witness?.name, 'witness');
  assert.equal(witness.signature.length, 64);
  assert.equal(verifyCheckpoint(cosigned, { name: 'witness', publicKey: other.publicKey }).size, 0);
  assert.deepEqual(
    parseVerifierKey(verifierKey(NAME, publicKey)).publicKey.export({ format: 'jwk' }),
    publicKey.export({ format: 'jwk' }),
  );
});

test('tampering with origin, size, root, timestamp or signature fails the signature', () => {
  const otherRoot = Buffer.from(ROOT.map((b) => b ^ 1)).toString('base64');
  const tampered = [
    signed.replace('tessera.example/audit-log', 'tessera.example/audit-loh'),
    signed.replace('\n1234\n', '\n1235\n'),
    signed.replace(Buffer.from(ROOT).toString('base64'), otherRoot),
    signed.replace('02:00:00.000Z', '02:00:01.000Z'),
  ];
  for (const text of tampered) fails('ERR_CHECKPOINT_SIGNATURE', () => verifyCheckpoint(text, verifier), text);

  // Every byte of the Ed25519 signature itself (after the 4-byte key hash).
  const [note, line = ''] = signed.split('\n\n');
  const [dash, name, encoded = ''] = line.slice(0, -1).split(' ');
  const bytes = Buffer.from(encoded, 'base64');
  for (let i = 4; i < bytes.length; i += 1) {
    const flipped = Buffer.from(bytes);
    flipped[i] = (flipped[i] ?? 0) ^ 0x01;
    const text = `${note}\n\n${dash} ${name} ${flipped.toString('base64')}\n`;
    fails('ERR_CHECKPOINT_SIGNATURE', () => verifyCheckpoint(text, verifier), `byte ${i}`);
  }
  // A flipped key hash makes it someone else's signature, and then none is ours.
  const otherHash = Buffer.from(bytes);
  otherHash[0] = (otherHash[0] ?? 0) ^ 0x01;
  fails('ERR_CHECKPOINT_KEY', () =>
    verifyCheckpoint(`${note}\n\n${dash} ${name} ${otherHash.toString('base64')}\n`, verifier),
  );
});

test('a note not signed by the expected key is refused with ERR_CHECKPOINT_KEY', () => {
  const stranger = generateKeyPairSync('ed25519');
  fails('ERR_CHECKPOINT_KEY', () => verifyCheckpoint(signed, { name: 'someone-else', publicKey }));
  fails('ERR_CHECKPOINT_KEY', () => verifyCheckpoint(signed, { name: NAME, publicKey: stranger.publicKey }));
  fails('ERR_CHECKPOINT_KEY', () => verifyCheckpoint(signed.replace(`\u2014 ${NAME} `, '\u2014 other '), verifier));
  fails('ERR_CHECKPOINT_KEY', () => verifyCheckpoint(signed, { name: 'bad name', publicKey }));
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  fails('ERR_CHECKPOINT_KEY', () => signCheckpoint(body, { name: NAME, privateKey: ec.privateKey }));
  fails('ERR_CHECKPOINT_KEY', () => signCheckpoint(body, { name: 'a+b', privateKey }));
  fails('ERR_CHECKPOINT_KEY', () => verifyCheckpoint(signed, { name: NAME, publicKey: ec.publicKey }));
  fails('ERR_CHECKPOINT_KEY', () => parseVerifierKey(SUMDB_VKEY.replace('033de0ae', '033de0af')));
  fails('ERR_CHECKPOINT_KEY', () => parseVerifierKey('sum.golang.org+033de0ae'));
});

test('malformed notes are refused with ERR_CHECKPOINT_MALFORMED', () => {
  const sig = signed.split('\n\n')[1] ?? '';
  const root = Buffer.from(ROOT).toString('base64');
  const cases: Record<string, string> = {
    'no blank line': signed.replace('\n\n', '\n'),
    'no signature': body + '\n',
    'no final newline': signed.slice(0, -1),
    CRLF: signed.replaceAll('\n', '\r\n'),
    'CR in body': signed.replace('\n1234\n', '\r\n1234\n'),
    'bad base64 root': signed.replace(root, root.slice(1)),
    'non-canonical base64 root': signed.replace(root, root.replace('=', '')),
    'short root': signed.replace(root, Buffer.alloc(31).toString('base64')),
    'bad base64 signature': signed.replace(/ [^ ]+\n$/u, ' !!!!\n'),
    'hyphen for em dash': signed.replace('\u2014', '-'),
    'non-decimal size': signed.replace('\n1234\n', '\n0x4d2\n'),
    'leading zero': signed.replace('\n1234\n', '\n01234\n'),
    'negative size': signed.replace('\n1234\n', '\n-1234\n'),
    'huge size': signed.replace('\n1234\n', '\n18446744073709551615\n'),
    'empty origin': signed.replace('tessera.example/audit-log', ''),
    'missing root': `o\n12\n\n${sig}`,
    'empty extension line': signed.replace('\ntimestamp', '\n\ntimestamp'),
    'bad timestamp': signed.replace('2026-12-02T02:00:00.000Z', '2026-12-02 02:00'),
    'two timestamps': signed.replace('\n\n', '\ntimestamp 2026-12-02T02:00:00.000Z\n\n'),
    'blank line inside the signatures': `${signed}\n${sig}`,
    'tab in body': signed.replace('tessera.example', 'tessera\texample'),
    'lone surrogate': signed.replace('tessera.example', 'tessera\ud800'),
  };
  for (const [what, text] of Object.entries(cases)) {
    fails('ERR_CHECKPOINT_MALFORMED', () => parseSignedCheckpoint(text), what);
    fails('ERR_CHECKPOINT_MALFORMED', () => verifyCheckpoint(text, verifier), what);
  }
});

test('formatCheckpoint and signCheckpoint refuse what a reader would refuse', () => {
  const ok = { origin: 'o', size: 1, rootHash: ROOT };
  fails('ERR_CHECKPOINT_MALFORMED', () => formatCheckpoint({ ...ok, origin: 'a\n1' }));
  fails('ERR_CHECKPOINT_MALFORMED', () => formatCheckpoint({ ...ok, origin: '' }));
  fails('ERR_CHECKPOINT_MALFORMED', () => formatCheckpoint({ ...ok, size: -1 }));
  fails('ERR_CHECKPOINT_MALFORMED', () => formatCheckpoint({ ...ok, size: 1.5 }));
  fails('ERR_CHECKPOINT_MALFORMED', () => formatCheckpoint({ ...ok, rootHash: new Uint8Array(31) }));
  fails('ERR_CHECKPOINT_MALFORMED', () => formatCheckpoint({ ...ok, extensions: [''] }));
  fails('ERR_CHECKPOINT_MALFORMED', () => formatCheckpoint({ ...ok, extensions: ['a\nb'] }));
  fails('ERR_CHECKPOINT_MALFORMED', () =>
    formatCheckpoint({ ...ok, extensions: ['timestamp 2026-12-02T02:00:00.000Z'] }),
  );
  fails('ERR_CHECKPOINT_MALFORMED', () => formatCheckpoint({ ...ok, timestamp: new Date(Number.NaN) }));
  fails('ERR_CHECKPOINT_MALFORMED', () => signCheckpoint('not a checkpoint\n', { name: NAME, privateKey }));
  fails('ERR_CHECKPOINT_MALFORMED', () => signCheckpoint(body.slice(0, -1), { name: NAME, privateKey }));
});

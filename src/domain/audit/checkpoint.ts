// Signed checkpoints of the audit log in the C2SP tlog-checkpoint format, inside a C2SP
// signed note with an Ed25519 key (https://c2sp.org/tlog-checkpoint, https://c2sp.org/signed-note),
// so that Go's note package, Sigstore and witnesses can read and check them without us.
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

export type CheckpointErrorCode = 'ERR_CHECKPOINT_MALFORMED' | 'ERR_CHECKPOINT_SIGNATURE' | 'ERR_CHECKPOINT_KEY';

export class CheckpointError extends Error {
  /** Stable; callers branch on it, never on the message. */
  readonly code: CheckpointErrorCode;

  constructor(code: CheckpointErrorCode, reason: string) {
    super(reason);
    this.name = 'CheckpointError';
    this.code = code;
  }
}

export interface Checkpoint {
  /** The log's identity, the note's first line; verifiers must compare it with the log they expect. */
  origin: string;
  size: number;
  rootHash: Uint8Array;
  /** When the checkpoint was made, written as the extension line `timestamp <RFC 3339 UTC>`. */
  timestamp?: Date;
  /** Other extension lines, after the root hash; each non-empty. */
  extensions?: string[];
}

export interface NoteSignature {
  name: string;
  keyHash: Uint8Array;
  signature: Uint8Array;
}

export interface SignedCheckpoint extends Checkpoint {
  extensions: string[];
  /** The signed text, exactly as the signatures cover it. */
  body: string;
  /** Every signature line, by any key; only verifyCheckpoint says which ones hold. */
  signatures: NoteSignature[];
}

export interface CheckpointSigner {
  name: string;
  privateKey: KeyObject;
}

export interface CheckpointVerifier {
  name: string;
  publicKey: KeyObject;
}

// signed-note: the signature type byte of Ed25519, the line prefix, and a bound on lines.
const ED25519 = 0x01;
const SIGNATURE_PREFIX = '\u2014 ';
const MAX_SIGNATURES = 100;
const TIMESTAMP = 'timestamp ';

/** The note body: origin, decimal size, base64 root hash, extension lines, each ending in a newline. */
export function formatCheckpoint(checkpoint: Checkpoint): string {
  const { origin, size, rootHash, timestamp, extensions = [] } = checkpoint;
  // A newline inside a field would forge lines; parseBody cannot tell, so refuse it here.
  if ([origin, ...extensions].some((line) => typeof line !== 'string' || line.includes('\n'))) {
    throw malformed('origin and extension lines are single lines');
  }
  if (extensions.some((line) => line.startsWith(TIMESTAMP))) throw malformed('pass the timestamp as timestamp');
  const lines = [origin, String(size), Buffer.from(rootHash).toString('base64')];
  if (timestamp !== undefined) {
    if (Number.isNaN(timestamp.getTime())) throw malformed('invalid timestamp');
    lines.push(TIMESTAMP + timestamp.toISOString());
  }
  lines.push(...extensions);
  const body = lines.map((line) => `${line}\n`).join('');
  parseBody(body); // the same rules a reader applies, so we never sign what we would refuse
  return body;
}

/** The complete signed note: the body, a blank line, and the signature line of this key. */
export function signCheckpoint(body: string, signer: CheckpointSigner): string {
  parseBody(body);
  checkKeyName(signer.name);
  const { privateKey } = signer;
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new CheckpointError('ERR_CHECKPOINT_KEY', 'checkpoints are signed with an Ed25519 private key');
  }
  const keyHash = noteKeyHash(signer.name, createPublicKey(privateKey));
  const signature = sign(null, Buffer.from(body, 'utf8'), privateKey);
  const encoded = Buffer.concat([keyHash, signature]).toString('base64');
  return `${body}\n${SIGNATURE_PREFIX}${signer.name} ${encoded}\n`;
}

/** Splits and decodes a signed checkpoint without checking any signature. */
export function parseSignedCheckpoint(text: string): SignedCheckpoint {
  if (typeof text !== 'string' || Buffer.from(text, 'utf8').toString('utf8') !== text) {
    throw malformed('a note is UTF-8 text');
  }
  // signed-note: no control characters but the newline (so no CR), and the signatures
  // follow the last blank line.
  if (hasControlCharacter(text)) throw malformed('control character in note');
  const split = text.lastIndexOf('\n\n');
  if (split < 0) throw malformed('no blank line before the signatures');
  const body = text.slice(0, split + 1);
  const block = text.slice(split + 2);
  if (!block.endsWith('\n')) throw malformed('the note does not end with a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw malformed('too many signatures');
  const signatures = lines.map(parseSignatureLine);
  return { ...parseBody(body), body, signatures };
}

/**
 * Parses the note and checks it is signed by this key. Signatures by other keys are ignored,
 * as signed-note requires; one by this key that does not verify fails the whole note. The
 * caller still compares origin (and size, against what it saw before) with its expectations.
 */
export function verifyCheckpoint(text: string, verifier: CheckpointVerifier): SignedCheckpoint {
  const checkpoint = parseSignedCheckpoint(text);
  checkKeyName(verifier.name);
  const publicKey = asEd25519Public(verifier.publicKey);
  const keyHash = noteKeyHash(verifier.name, publicKey);
  const ours = checkpoint.signatures.filter((s) => s.name === verifier.name && keyHash.equals(s.keyHash));
  if (ours.length === 0) {
    throw new CheckpointError('ERR_CHECKPOINT_KEY', `checkpoint is not signed by ${verifier.name}`);
  }
  const message = Buffer.from(checkpoint.body, 'utf8');
  for (const { signature } of ours) {
    if (signature.length !== 64 || !verify(null, message, publicKey, signature)) {
      throw new CheckpointError('ERR_CHECKPOINT_SIGNATURE', `signature by ${verifier.name} does not verify`);
    }
  }
  return checkpoint;
}

/** signed-note's key hash: the first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key). */
export function noteKeyHash(name: string, publicKey: KeyObject): Buffer {
  const raw = rawPublicKey(asEd25519Public(publicKey));
  const digest = createHash('sha256').update(name, 'utf8').update(Uint8Array.of(0x0a, ED25519)).update(raw).digest();
  return digest.subarray(0, 4);
}

/** The verifier key string Go's note.NewVerifier and witnesses take: name+hash+base64(0x01 || key). */
export function verifierKey(name: string, publicKey: KeyObject): string {
  checkKeyName(name);
  const raw = rawPublicKey(asEd25519Public(publicKey));
  const encoded = Buffer.concat([Uint8Array.of(ED25519), raw]).toString('base64');
  return `${name}+${noteKeyHash(name, publicKey).toString('hex')}+${encoded}`;
}

/** The inverse of verifierKey, checking the hash it carries against the key. */
export function parseVerifierKey(vkey: string): CheckpointVerifier {
  // The name has no '+' and the hash is hex, but the base64 key may hold any number of them.
  const match = typeof vkey === 'string' ? /^([^+]+)\+([0-9a-f]{8})\+(.+)$/.exec(vkey) : null;
  const [, name = '', hash = '', encoded = ''] = match ?? [];
  const key = Buffer.from(encoded, 'base64');
  if (key.toString('base64') !== encoded || key.length !== 33 || key[0] !== ED25519) {
    throw new CheckpointError('ERR_CHECKPOINT_KEY', 'not an Ed25519 verifier key');
  }
  checkKeyName(name);
  const publicKey = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: key.subarray(1).toString('base64url') },
    format: 'jwk',
  });
  if (noteKeyHash(name, publicKey).toString('hex') !== hash) {
    throw new CheckpointError('ERR_CHECKPOINT_KEY', 'verifier key hash does not match its key');
  }
  return { name, publicKey };
}

function parseBody(body: string): Checkpoint & { extensions: string[] } {
  if (!body.endsWith('\n')) throw malformed('checkpoint body must end with a newline');
  if (hasControlCharacter(body)) throw malformed('control character in checkpoint');
  const [origin = '', sizeLine = '', rootLine = '', ...rest] = body.slice(0, -1).split('\n');
  if (origin === '') throw malformed('empty origin');
  if (!/^(0|[1-9][0-9]*)$/.test(sizeLine)) throw malformed('tree size is not a decimal number');
  const size = Number(sizeLine);
  if (!Number.isSafeInteger(size)) throw malformed('tree size is too large');
  const rootHash = new Uint8Array(decodeBase64(rootLine, 'root hash'));
  if (rootHash.length !== 32) throw malformed('root hash is not 32 bytes');
  let timestamp: Date | undefined;
  const extensions: string[] = [];
  for (const line of rest) {
    if (line === '') throw malformed('empty extension line');
    if (!line.startsWith(TIMESTAMP)) {
      extensions.push(line);
      continue;
    }
    const value = line.slice(TIMESTAMP.length);
    const parsed = new Date(value);
    if (timestamp !== undefined || Number.isNaN(parsed.getTime()) || parsed.toISOString() !== value) {
      throw malformed('timestamp must appear once, as YYYY-MM-DDTHH:mm:ss.sssZ');
    }
    timestamp = parsed;
  }
  return { origin, size, rootHash, ...(timestamp ? { timestamp } : {}), extensions };
}

function parseSignatureLine(line: string): NoteSignature {
  if (!line.startsWith(SIGNATURE_PREFIX)) throw malformed('signature lines start with an em dash and a space');
  const fields = line.slice(SIGNATURE_PREFIX.length).split(' ');
  const [name = '', encoded = ''] = fields;
  if (fields.length !== 2 || !isKeyName(name)) throw malformed('malformed signature line');
  const bytes = decodeBase64(encoded, 'signature');
  if (bytes.length < 5) throw malformed('signature is too short');
  return { name, keyHash: bytes.subarray(0, 4), signature: bytes.subarray(4) };
}

// Any ASCII control character but the newline: C0, and DEL.
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x0a) || c === 0x7f) return true;
  }
  return false;
}

// signed-note: a key name is non-empty, has no Unicode whitespace and no plus sign.
const isKeyName = (name: string): boolean => name !== '' && !/[\s+]/u.test(name);

function checkKeyName(name: string): void {
  if (typeof name !== 'string' || !isKeyName(name)) {
    throw new CheckpointError('ERR_CHECKPOINT_KEY', 'a key name is non-empty, without spaces or "+"');
  }
}

function asEd25519Public(key: KeyObject): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519') throw new CheckpointError('ERR_CHECKPOINT_KEY', 'not an Ed25519 key');
  return key.type === 'public' ? key : createPublicKey(key);
}

function rawPublicKey(key: KeyObject): Buffer {
  const { x } = key.export({ format: 'jwk' });
  return Buffer.from(x ?? '', 'base64url');
}

// Standard base64 with padding, canonical only, so one checkpoint has one encoding.
function decodeBase64(encoded: string, what: string): Buffer {
  const bytes = Buffer.from(encoded, 'base64');
  if (encoded === '' || bytes.toString('base64') !== encoded) throw malformed(`${what} is not canonical base64`);
  return bytes;
}

const malformed = (reason: string): CheckpointError => new CheckpointError('ERR_CHECKPOINT_MALFORMED', reason);

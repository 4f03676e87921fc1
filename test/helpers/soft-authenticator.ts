// A software WebAuthn authenticator for tests: answers navigator.credentials.create() and
// .get() as a browser's platform authenticator would, with ES256 (P-256) keys, attestation
// "none", and responses in the shape of PublicKeyCredential.toJSON(). Built on node:crypto
// and @simplewebauthn/server/helpers only.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { COSEALG, cose, isoBase64URL, isoCBOR } from '@simplewebauthn/server/helpers';

type CBORValue = Parameters<typeof isoCBOR.encode>[0];

const ES256: number = COSEALG.ES256;
const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_AT = 0x40;

interface StoredCredential {
  id: string;
  privateKey: KeyObject;
  rpId: string;
  userHandle: string;
  counter: number;
}

const bytes = (...parts: Uint8Array[]): Uint8Array<ArrayBuffer> => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

const sha256 = (data: Uint8Array | string): Uint8Array => createHash('sha256').update(data).digest();

const uint32BE = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0);
  return b;
};

const b64u = (data: Uint8Array): string => isoBase64URL.fromBuffer(bytes(data));

const clientData = (type: 'webauthn.create' | 'webauthn.get', challenge: string, origin: string): Uint8Array =>
  new TextEncoder().encode(JSON.stringify({ type, challenge, origin, crossOrigin: false }));

const domError = (name: string, message: string): Error => Object.assign(new Error(message), { name });

export class SoftAuthenticator {
  readonly #aaguid: Uint8Array;
  readonly #credentials: StoredCredential[] = [];

  constructor(opts: { aaguid?: Uint8Array } = {}) {
    const aaguid = opts.aaguid ?? new Uint8Array(16);
    if (aaguid.length !== 16) throw new RangeError('aaguid must be 16 bytes');
    this.#aaguid = bytes(aaguid);
  }

  /** Answers navigator.credentials.create(). `rpId` overrides the RP ID hashed into authenticatorData. */
  register(
    options: PublicKeyCredentialCreationOptionsJSON,
    origin: string,
    o: { userVerified?: boolean; rpId?: string; challenge?: string } = {},
  ): RegistrationResponseJSON {
    const rpId = options.rp.id ?? new URL(origin).hostname;
    if (!options.pubKeyCredParams.some((p) => p.type === 'public-key' && p.alg === ES256)) {
      throw domError('NotSupportedError', 'ES256 is not among pubKeyCredParams');
    }
    const excluded = new Set((options.excludeCredentials ?? []).map((c) => c.id));
    if (this.#credentials.some((c) => c.rpId === rpId && excluded.has(c.id))) {
      throw domError('InvalidStateError', 'a credential in excludeCredentials is already registered');
    }

    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    if (!jwk.x || !jwk.y) throw new Error('P-256 public key without x/y');
    const coseKey = new Map<number, number | Uint8Array>([
      [cose.COSEKEYS.kty, cose.COSEKTY.EC2],
      [cose.COSEKEYS.alg, COSEALG.ES256],
      [cose.COSEKEYS.crv, cose.COSECRV.P256],
      [cose.COSEKEYS.x, isoBase64URL.toBuffer(jwk.x)],
      [cose.COSEKEYS.y, isoBase64URL.toBuffer(jwk.y)],
    ]);

    const credentialId = randomBytes(32);
    const idLength = new Uint8Array([credentialId.length >> 8, credentialId.length & 0xff]);
    const flags = FLAG_UP | FLAG_AT | (o.userVerified === false ? 0 : FLAG_UV);
    const authData = bytes(
      sha256(o.rpId ?? rpId),
      new Uint8Array([flags]),
      uint32BE(0),
      this.#aaguid,
      idLength,
      credentialId,
      isoCBOR.encode(coseKey),
    );
    const attestationObject = isoCBOR.encode(
      new Map<string, CBORValue>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]),
    );

    const id = b64u(credentialId);
    this.#credentials.push({ id, privateKey, rpId, userHandle: options.user.id, counter: 0 });
    return {
      id,
      rawId: id,
      type: 'public-key',
      response: {
        clientDataJSON: b64u(clientData('webauthn.create', o.challenge ?? options.challenge, origin)),
        attestationObject: b64u(attestationObject),
        transports: ['internal'],
        authenticatorData: b64u(authData),
        publicKeyAlgorithm: COSEALG.ES256,
        publicKey: b64u(publicKey.export({ format: 'der', type: 'spki' })),
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  /**
   * Answers navigator.credentials.get(). `counter` forces the signCount without touching the
   * remembered one (a cloned authenticator); `rpId` overrides the RP ID hashed into
   * authenticatorData, not the one the credential is looked up by.
   */
  authenticate(
    options: PublicKeyCredentialRequestOptionsJSON,
    origin: string,
    o: { userVerified?: boolean; counter?: number; credentialId?: string; challenge?: string; rpId?: string } = {},
  ): AuthenticationResponseJSON {
    const rpId = options.rpId ?? new URL(origin).hostname;
    const allowed = (options.allowCredentials ?? []).map((c) => c.id);
    const credential = this.#credentials.find(
      (c) =>
        c.rpId === rpId &&
        (allowed.length === 0 || allowed.includes(c.id)) &&
        (o.credentialId === undefined || c.id === o.credentialId),
    );
    if (!credential) throw domError('NotAllowedError', `no matching credential for ${rpId}`);

    let signCount: number;
    if (o.counter === undefined) signCount = ++credential.counter;
    else signCount = o.counter;
    const flags = FLAG_UP | (o.userVerified === false ? 0 : FLAG_UV);
    const authData = bytes(sha256(o.rpId ?? rpId), new Uint8Array([flags]), uint32BE(signCount));
    const clientDataJSON = clientData('webauthn.get', o.challenge ?? options.challenge, origin);
    const signature = sign('sha256', bytes(authData, sha256(clientDataJSON)), credential.privateKey);

    return {
      id: credential.id,
      rawId: credential.id,
      type: 'public-key',
      response: {
        clientDataJSON: b64u(clientDataJSON),
        authenticatorData: b64u(authData),
        signature: b64u(signature),
        userHandle: credential.userHandle,
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  /** The remembered credentials' ids (base64url). */
  credentialIds(): string[] {
    return this.#credentials.map((c) => c.id);
  }
}

// Creating signing key pairs and their public JWKs. The public JWK is built from an
// allow-list of public members, never by copying the private key and deleting fields.
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { SigningAlg } from '../../config/config.js';

export interface PublicJwk {
  kty: string;
  kid: string;
  alg: SigningAlg;
  use: 'sig';
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
}

const PUBLIC_MEMBERS: Record<string, readonly string[]> = {
  EC: ['crv', 'x', 'y'],
  OKP: ['crv', 'x'],
  RSA: ['n', 'e'],
};

export function publicJwkOf(jwk: JWK, kid: string, alg: SigningAlg): PublicJwk {
  const members = jwk.kty ? PUBLIC_MEMBERS[jwk.kty] : undefined;
  if (!members) throw new Error(`unsupported key type ${String(jwk.kty)}`);
  const out: Record<string, unknown> = { kty: jwk.kty, kid, alg, use: 'sig' };
  for (const member of members) {
    const value = (jwk as Record<string, unknown>)[member];
    if (typeof value !== 'string') throw new Error(`public member ${member} missing`);
    out[member] = value;
  }
  return out as unknown as PublicJwk;
}

export interface GeneratedKey {
  kid: string;
  alg: SigningAlg;
  publicJwk: PublicJwk;
  privateJwk: JWK;
}

/** A new key pair for alg; kid is the RFC 7638 thumbprint of the public key. */
export async function generateSigningKey(alg: SigningAlg): Promise<GeneratedKey> {
  const options =
    alg === 'RS256' || alg === 'PS256'
      ? { modulusLength: 3072, extractable: true }
      : alg === 'EdDSA'
        ? { crv: 'Ed25519', extractable: true }
        : { extractable: true };
  const { privateKey } = await generateKeyPair(alg, options);
  const privateJwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(privateJwk, 'sha256');
  return { kid, alg, publicJwk: publicJwkOf(privateJwk, kid, alg), privateJwk: { ...privateJwk, kid, alg } };
}

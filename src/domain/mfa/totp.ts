// TOTP (RFC 6238) for second factors: a 160-bit secret made here, the otpauth:// URI and
// its QR code (SVG) shown once at enrolment, and a check that accepts a code within one
// 30-second step either side and tells which step matched. Replay is refused by the
// caller, atomically: a factor's last used step only moves forward (one UPDATE ... WHERE
// last_step < matched), so two parallel requests with one code get one success.
import { generateSecret, generateURI, verify } from 'otplib';
import { renderSVG } from 'uqr';

const PERIOD = 30;
const DIGITS = 6;

/** A new base32 secret of 20 random bytes (RFC 4226's recommended length). */
export function newTotpSecret(): string {
  return generateSecret({ length: 20 });
}

/** The otpauth:// URI an authenticator app reads: issuer and account as its label. */
export function totpUri(secret: string, issuer: string, account: string): string {
  return generateURI({ strategy: 'totp', issuer, label: account, secret, digits: DIGITS, period: PERIOD });
}

/** The URI as a QR code, an SVG document with no script and no external reference. */
export function totpQrSvg(uri: string): string {
  return renderSVG(uri, { ecc: 'M', border: 2 });
}

/**
 * The 30-second step a six-digit code matches within ±1 step of `now`, or null. Steps at
 * or before `afterStep` (the factor's last used step) never match.
 */
export async function matchTotp(
  secret: string,
  code: string,
  afterStep: number | null,
  now: number = Date.now(),
): Promise<number | null> {
  if (!/^[0-9]{6}$/.test(code)) return null;
  const result = await verify({
    strategy: 'totp',
    secret,
    token: code,
    period: PERIOD,
    digits: DIGITS,
    epoch: Math.floor(now / 1000),
    epochTolerance: PERIOD,
    ...(afterStep === null ? {} : { afterTimeStep: afterStep }),
  });
  return result.valid && 'timeStep' in result ? result.timeStep : null;
}

// What must never leave the process in a log line or an audit detail: passwords, tokens,
// secrets, cookies, Authorization values, captcha answers, authorization codes, and second
// factors' recovery codes, otpauth URIs and passkey assertions. Keys are judged by name at
// any depth; strings are scrubbed of JWTs, credentials after an auth scheme, secret-named
// query parameters (and code, state, nonce) and the raw input V8 quotes in JSON syntax errors.

export const REDACTED = '[redacted]';

const SECRET_KEY =
  /passw(?:or)?d|passphrase|^pass$|^pwd$|secret|token|authorization|cookie|captcha[_-]?(?:answer|response)|^(?:h-captcha|g-recaptcha|cf-turnstile)-response$|^response$|api[_-]?key|private[_-]?(?:key|jwk)|master[_-]?key|credential|^code_verifier$|recovery[_-]?codes?|otpauth|^qr_svg$|^assertion$/i;

function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

const JWT = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const AUTH_VALUE = /\b(Bearer|Basic|DPoP)(\s+)[A-Za-z0-9._~+/=-]{4,}/gi;
const SECRET_PARAM =
  /([A-Za-z0-9_-]*(?:passw(?:or)?d|secret|token|captcha[_-]?(?:answer|response)|api[_-]?key)[A-Za-z0-9_-]*)=([^&\s"\\;]+)/gi;
/** The authorization code flow's one-time values, as they appear in a URL or a form body. */
const FLOW_PARAM = /\b(code|code_verifier|state|nonce)=([^&\s"\\;]+)/g;
// V8: `Unexpected token 'x', "<the raw input>" is not valid JSON`.
const JSON_INPUT = /"[\s\S]*" is not valid JSON/g;

/** A value: also drops the input quoted by a JSON syntax error. */
export function scrubString(value: string): string {
  if (value.length < 8) return value;
  return scrubLine(value).replace(JSON_INPUT, `"${REDACTED}" is not valid JSON`);
}

/** A whole serialized log line: only patterns that cannot cross a JSON string's quotes. */
export function scrubLine(line: string): string {
  return line
    .replace(JWT, REDACTED)
    .replace(AUTH_VALUE, `$1$2${REDACTED}`)
    .replace(SECRET_PARAM, `$1=${REDACTED}`)
    .replace(FLOW_PARAM, `$1=${REDACTED}`);
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * A copy of plain objects and arrays with secret-named keys replaced and strings scrubbed,
 * at any depth (bounded). Other objects (errors, requests, buffers) are left to their
 * serializers, which run this on what they produce.
 */
export function redactDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubString(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 12) return '[too deep]';
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, depth + 1));
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value))
    out[key] = isSecretKey(key) && item !== undefined && item !== null ? REDACTED : redactDeep(item, depth + 1);
  return out;
}

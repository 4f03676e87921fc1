// Shared wire schemas, each with an $id so openapi.yaml names them once.
import Type, { type TStringOptions } from 'typebox';
import { EMAIL_MAX_LENGTH, EMAIL_PATTERN } from './domain/users/email.js';

export const ErrorBody = Type.Object(
  {
    error: Type.String({ description: 'Stable error code (RFC 6749 5.2 names on the OAuth endpoints)' }),
    error_description: Type.String({ description: 'Generic, human-readable description' }),
  },
  { $id: 'Error', additionalProperties: true },
);

export const TokenResponse = Type.Object(
  {
    access_token: Type.String(),
    token_type: Type.Literal('Bearer'),
    expires_in: Type.Integer(),
    refresh_token: Type.Optional(Type.String()),
    id_token: Type.Optional(Type.String({ description: 'OpenID Connect ID token, when openid was granted' })),
    scope: Type.String(),
  },
  { $id: 'TokenResponse', additionalProperties: false },
);

/**
 * What PostgreSQL text cannot hold, as the inside of a pattern's character class: NUL, and
 * lone UTF-16 surrogates (stored as U+FFFD, so different inputs would become one value).
 * Ajv compiles patterns with the u flag: a surrogate pair is one code point outside the
 * class, a lone half is inside it.
 */
const UNSTORABLE = '\\u0000\\uD800-\\uDFFF';
/** Every Text field's pattern. */
export const TEXT_PATTERN = `^[^${UNSTORABLE}]*$`;

/** A caller's text: any string PostgreSQL stores as sent. Fields with their own pattern exclude UNSTORABLE in it. */
export const Text = (options: Omit<TStringOptions, 'pattern'> = {}) =>
  Type.String({ ...options, pattern: TEXT_PATTERN });

/** Surrounding white space is allowed here and trimmed before use. */
export const Email = Type.String({ minLength: 3, maxLength: EMAIL_MAX_LENGTH, pattern: EMAIL_PATTERN });
/** Length limits here are a first gate; the byte cap and policy are checked in code. */
export const Password = Text({ minLength: 1, maxLength: 1024 });

const errorRef = Type.Ref('Error');
/** TokenResponse by reference, so openapi.yaml names it once; typed as the schema it names. */
export const tokenResponseRef = Type.Unsafe<Type.Static<typeof TokenResponse>>(Type.Ref('TokenResponse'));
export const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, errorRef]));

// Second factors on the wire: what a factor shows, and WebAuthn responses in the JSON form
// of PublicKeyCredential.toJSON() (base64url members, nothing else accepted).
const B64Url = (maxLength: number) => Type.String({ minLength: 1, maxLength, pattern: '^[A-Za-z0-9_-]+$' });

export const FactorView = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    kind: Type.Union([Type.Literal('totp'), Type.Literal('webauthn')]),
    label: Type.String(),
    created_at: Type.String({ format: 'date-time' }),
    last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { additionalProperties: false },
);

export const FactorLabel = Text({ minLength: 1, maxLength: 64 });

const Attachment = Type.Optional(Type.Union([Type.Literal('platform'), Type.Literal('cross-platform')]));
const ExtensionResults = Type.Object({}, { additionalProperties: true, maxProperties: 16 });

export const RegistrationResponse = Type.Object(
  {
    id: B64Url(1024),
    rawId: B64Url(1024),
    type: Type.Literal('public-key'),
    response: Type.Object(
      {
        clientDataJSON: B64Url(8192),
        attestationObject: B64Url(16_384),
        authenticatorData: Type.Optional(B64Url(8192)),
        transports: Type.Optional(
          Type.Array(Type.String({ pattern: '^[a-z-]{1,32}$' }), { maxItems: 8, uniqueItems: true }),
        ),
        publicKeyAlgorithm: Type.Optional(Type.Integer()),
        publicKey: Type.Optional(B64Url(2048)),
      },
      { additionalProperties: false },
    ),
    clientExtensionResults: ExtensionResults,
    authenticatorAttachment: Attachment,
  },
  { additionalProperties: false },
);

export const AssertionResponse = Type.Object(
  {
    id: B64Url(1024),
    rawId: B64Url(1024),
    type: Type.Literal('public-key'),
    response: Type.Object(
      {
        clientDataJSON: B64Url(8192),
        authenticatorData: B64Url(8192),
        signature: B64Url(1024),
        userHandle: Type.Optional(B64Url(128)),
      },
      { additionalProperties: false },
    ),
    clientExtensionResults: ExtensionResults,
    authenticatorAttachment: Attachment,
  },
  { additionalProperties: false },
);

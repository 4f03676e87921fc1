// Shared wire schemas, each with an $id so openapi.yaml names them once.
import Type from 'typebox';

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
    scope: Type.String(),
  },
  { $id: 'TokenResponse', additionalProperties: false },
);

/** Surrounding white space is allowed here and trimmed before use. */
export const Email = Type.String({ minLength: 3, maxLength: 320, pattern: '^\\s*[^\\s@]{1,64}@[^\\s@]{1,252}\\s*$' });
/** Length limits here are a first gate; the byte cap and policy are checked in code. */
export const Password = Type.String({ minLength: 1, maxLength: 1024 });

export const errorRef = Type.Ref('Error');
export const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, errorRef]));

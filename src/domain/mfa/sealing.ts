// What each sealed second-factor secret is bound to (the AAD of its AES-GCM seal), so a
// value copied onto another row, user or name does not open.

/** A TOTP secret: its user and its factor. */
export const totpAad = (userId: string, factorId: string) => `mfa-totp:${userId}:${factorId}`;

/** A secret of the service itself (table sealed_secrets): its name. */
export const sealedSecretAad = (name: string) => `sealed-secret:${name}`;

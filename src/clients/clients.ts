// Clients: registration (confidential ones get a 256-bit secret shown once, stored as a
// hash; public ones get none) and client authentication at the token, revocation and
// introspection endpoints, with the current secret or, during a rotation's overlap, the
// previous one.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Queryable } from '../db/database.js';
import { findClient, findClientForAuthentication, insertClient, type ClientRow } from '../db/repositories/clients.js';
import { checkClientMetadata, type ClientMetadataInput } from '../domain/clients/client-metadata.js';
import { TesseraError } from '../errors/errors.js';
import { recordSecurityEvent } from '../audit/audit-log.js';

export type { ClientRow };

/** Tessera's own first-party client: logins, and public clients that send no client_id. */
export const FIRST_PARTY_CLIENT_ID = 'tessera';

/** Secrets carry 256 random bits, so a fast hash is enough: there is nothing to guess. */
function hashClientSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}

/** A new secret of 256 random bits (shown once) and the hash that is stored. */
export function newClientSecret(): { secret: string; hash: string } {
  const secret = randomBytes(32).toString('base64url');
  return { secret, hash: hashClientSecret(secret) };
}

/** A registration: name and scopes, and whatever of type, grants, URIs and rights differs from the defaults. */
export type NewClient = ClientMetadataInput;

/** Whether the registration follows production's rules (no plain http but to loopback). */
export interface RegistrationSettings {
  production: boolean;
}

/** Without settings, the strict (production) rules apply. */
const STRICT: RegistrationSettings = { production: true };

/** A confidential client always gets a secret; a public one never does. */
export function createClient(
  db: Queryable,
  c: NewClient & { type?: 'confidential' },
  settings?: RegistrationSettings,
): Promise<{ client: ClientRow; secret: string }>;
export function createClient(
  db: Queryable,
  c: NewClient,
  settings?: RegistrationSettings,
): Promise<{ client: ClientRow; secret: string | undefined }>;
export async function createClient(
  db: Queryable,
  c: NewClient,
  settings: RegistrationSettings = STRICT,
): Promise<{ client: ClientRow; secret: string | undefined }> {
  const checked = checkClientMetadata(c, settings);
  if (!checked.ok) throw new TesseraError(checked.error, { description: checked.description });
  const m = checked.metadata;
  const fresh = m.type === 'confidential' ? newClientSecret() : undefined;
  const client = await insertClient(db, {
    id: newClientId(),
    name: m.name,
    type: m.type,
    secretHash: fresh?.hash ?? null,
    grantTypes: m.grantTypes,
    redirectUris: m.redirectUris,
    postLogoutRedirectUris: m.postLogoutRedirectUris,
    scopes: m.scopes,
    firstParty: m.firstParty,
    requirePkce: m.requirePkce,
    canIntrospect: m.canIntrospect,
  });
  return { client, secret: fresh?.secret };
}

/** Registration by an admin over HTTP, or by the CLI: the client and its audit event. */
export async function registerClient(
  db: Queryable,
  c: NewClient,
  by: { userId: string; ip: string } | 'cli',
  settings: RegistrationSettings = STRICT,
): Promise<{ client: ClientRow; secret: string | undefined }> {
  const created = await createClient(db, c, settings);
  const { client } = created;
  await recordSecurityEvent(db, {
    type: 'client_created',
    ...(by === 'cli' ? {} : { userId: by.userId, ip: by.ip }),
    detail: { client_id: client.id, name: client.name, type: client.type, ...(by === 'cli' ? { by: 'cli' } : {}) },
  });
  return created;
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

/** The client as admins see it (API answer, CLI output): never its secret hash. */
export function clientView(client: ClientRow) {
  return {
    client_id: client.id,
    name: client.name,
    type: client.type,
    grant_types: client.grant_types,
    redirect_uris: client.redirect_uris,
    post_logout_redirect_uris: client.post_logout_redirect_uris,
    scopes: client.scopes,
    first_party: client.first_party,
    can_introspect: client.can_introspect,
    require_pkce: client.require_pkce,
    created_at: new Date(client.created_at).toISOString(),
    disabled: client.disabled,
    updated_at: new Date(client.updated_at).toISOString(),
    secret_rotated_at: iso(client.secret_rotated_at),
    // When the secret before the last rotation stops (or stopped) working; null without one.
    previous_secret_expires_at: iso(client.previous_secret_expires_at),
    // The names of the first registration API, kept for its callers.
    scope: client.scopes.join(' '),
    introspect: client.can_introspect,
  };
}

const unauthorized = (detail: string, basic: boolean) =>
  new TesseraError('invalid_client', {
    detail,
    // RFC 6749 5.2: a client that tried HTTP authentication is answered with a challenge.
    headers: basic
      ? { 'WWW-Authenticate': 'Basic realm="tessera", charset="UTF-8"' }
      : { 'WWW-Authenticate': 'Basic realm="tessera"' },
  });

/** The client's credentials from client_secret_basic or client_secret_post, never both. */
function clientCredentials(
  request: FastifyRequest,
  body: Record<string, unknown>,
): { id: string; secret: string; basic: boolean } | undefined {
  const header = request.headers.authorization;
  const inBody = typeof body.client_secret === 'string';
  if (typeof header === 'string' && /^basic /i.test(header)) {
    if (inBody) throw new TesseraError('invalid_request', { detail: 'two client authentication methods' });
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw unauthorized('malformed basic credentials', true);
    try {
      // RFC 6749 2.3.1: id and secret are form-urlencoded before Basic encoding.
      const id = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
      const secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
      if (typeof body.client_id === 'string' && body.client_id !== id)
        throw new TesseraError('invalid_request', { detail: 'client_id differs from credentials' });
      return { id, secret, basic: true };
    } catch (error) {
      if (error instanceof TesseraError) throw error;
      throw unauthorized('undecodable basic credentials', true);
    }
  }
  if (inBody) {
    if (typeof body.client_id !== 'string') throw unauthorized('client_secret without client_id', false);
    return { id: body.client_id, secret: body.client_secret as string, basic: false };
  }
  return undefined;
}

/** Compared against when there is no hash to compare against; made per process, its secret forgotten. */
/** 128 random bits, base64url; never beginning with '-', so a command line never mistakes one for an option. */
export function newClientId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

const STAND_IN_HASH = hashClientSecret(randomBytes(32).toString('base64url'));

/** Authenticates a confidential client, or answers 401 invalid_client. */
async function authenticateClient(
  db: Queryable,
  credentials: { id: string; secret: string; basic: boolean },
): Promise<ClientRow> {
  const client = await findClientForAuthentication(db, credentials.id);
  const presented = Buffer.from(hashClientSecret(credentials.secret));
  // Two comparisons every time, against stand-ins for an unknown id or a missing (or
  // expired) previous secret, so timing tells nothing of either.
  const current = Buffer.from(client?.secret_hash ?? STAND_IN_HASH);
  const previous = Buffer.from(client?.previous_secret_hash ?? STAND_IN_HASH);
  const matchesCurrent = presented.length === current.length && timingSafeEqual(presented, current);
  const matchesPrevious = presented.length === previous.length && timingSafeEqual(presented, previous);
  // A stand-in is a hash nobody knows the secret of, so it never matches.
  const match = client !== undefined && (matchesCurrent || matchesPrevious);
  if (!client || !match || client.disabled) throw unauthorized('client authentication failed', credentials.basic);
  return client;
}

/** Client authentication that must succeed (introspection, revoked list). */
export async function requireClient(
  request: FastifyRequest,
  db: Queryable,
  body: Record<string, unknown> = {},
): Promise<ClientRow> {
  const credentials = clientCredentials(request, body);
  if (!credentials) throw unauthorized('no client authentication', false);
  return authenticateClient(db, credentials);
}

/**
 * The client at the token and revocation endpoints. Credentials (client_secret_basic or
 * client_secret_post) authenticate a confidential client; a public client has no secret,
 * so it fails there. Without credentials, client_id names a public client (auth method
 * `none`); a confidential client must authenticate. No client_id, or Tessera's own, is
 * the first-party client: undefined, as before public clients existed.
 */
export async function authenticateTokenClient(
  db: Queryable,
  request: FastifyRequest,
  body: Record<string, unknown>,
): Promise<ClientRow | undefined> {
  const credentials = clientCredentials(request, body);
  if (credentials) return authenticateClient(db, credentials);
  const id = body.client_id;
  if (id === undefined || id === FIRST_PARTY_CLIENT_ID) return undefined;
  const client = typeof id === 'string' ? await findClient(db, id) : undefined;
  if (!client || client.disabled) throw unauthorized('unknown or disabled client_id', false);
  if (client.type !== 'public') throw unauthorized('confidential client without client authentication', false);
  return client;
}

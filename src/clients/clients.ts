// Confidential clients: registration (a 256-bit secret shown once, stored as a hash)
// and client authentication at the token, revocation and introspection endpoints.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Queryable } from '../db/database.js';
import { findClient, insertClient, type ClientRow } from '../db/repositories/clients.js';
import { TesseraError } from '../errors/errors.js';
import { recordSecurityEvent } from '../audit/audit-log.js';

export type { ClientRow };

/** Tessera's own first-party client: logins, and public clients that send no client_id. */
export const FIRST_PARTY_CLIENT_ID = 'tessera';

/** RFC 6749 3.3 scope-token. */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;
export const CLIENT_GRANTS = ['client_credentials'] as const;

/** Secrets carry 256 random bits, so a fast hash is enough: there is nothing to guess. */
export function hashClientSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}

export interface NewClient {
  name: string;
  scopes: string[];
  grantTypes: string[];
  canIntrospect: boolean;
}

export async function createClient(db: Queryable, c: NewClient): Promise<{ client: ClientRow; secret: string }> {
  const name = c.name.trim();
  if (!name || name.length > 100 || /\p{Cc}/u.test(name))
    throw new TesseraError('invalid_request', { description: 'The client name is invalid' });
  if (!c.scopes.every((s) => SCOPE_TOKEN.test(s)))
    throw new TesseraError('invalid_scope', { description: 'A scope is not a valid scope token' });
  if (!c.grantTypes.every((g) => (CLIENT_GRANTS as readonly string[]).includes(g))) {
    throw new TesseraError('invalid_request', { description: 'Unsupported grant type for a client' });
  }
  const id = randomBytes(16).toString('base64url');
  const secret = randomBytes(32).toString('base64url');
  const client = await insertClient(db, {
    id,
    name,
    secretHash: hashClientSecret(secret),
    grantTypes: [...new Set(c.grantTypes)],
    scopes: [...new Set(c.scopes)],
    canIntrospect: c.canIntrospect,
  });
  return { client, secret };
}

/** Registration by an admin over HTTP: the client and its audit event. */
export async function registerClient(
  db: Queryable,
  c: NewClient,
  by: { userId: string; ip: string },
): Promise<{ client: ClientRow; secret: string }> {
  const created = await createClient(db, c);
  await recordSecurityEvent(db, {
    type: 'client_created',
    userId: by.userId,
    ip: by.ip,
    detail: { client_id: created.client.id, name: created.client.name },
  });
  return created;
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
export function clientCredentials(
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

/** Authenticates a confidential client, or answers 401 invalid_client. */
export async function authenticateClient(
  db: Queryable,
  credentials: { id: string; secret: string; basic: boolean },
): Promise<ClientRow> {
  const client = await findClient(db, credentials.id);
  const presented = Buffer.from(hashClientSecret(credentials.secret));
  // Compare against something even for unknown ids, so timing tells nothing.
  const expected = Buffer.from(client?.secret_hash ?? hashClientSecret(randomBytes(32).toString('base64url')));
  const match = presented.length === expected.length && timingSafeEqual(presented, expected);
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

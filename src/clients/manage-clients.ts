// Clients after registration, for the admin API and the CLI: reading, changing (checked
// like a registration), secret rotation with an overlap, disabling and deleting. Disabling
// or deleting a client ends its sessions and revokes the access tokens it was issued
// before, for this server and for verifiers reading GET /oauth/revoked.
import type { Config } from '../config/config.js';
import type { Database, Queryable } from '../db/database.js';
import {
  deleteClientRow,
  findClient,
  listClients,
  lockClient,
  rotateClientSecretHash,
  setClientDisabled,
  updateClientMetadata,
  type ClientPage,
  type ClientRow,
} from '../db/repositories/clients.js';
import { recordRevocation } from '../db/repositories/revocations.js';
import { endClientSessions } from '../db/repositories/sessions.js';
import { expireClientCodes } from '../db/repositories/authorization-codes.js';
import { checkClientMetadata } from '../domain/clients/client-metadata.js';
import { TesseraError } from '../errors/errors.js';
import { recordSecurityEvent } from '../audit/audit-log.js';
import { newClientSecret, type RegistrationSettings } from './clients.js';

export type { ClientPage, ClientRow };

/** Who acts: an admin over HTTP, or the command line. */
export type ClientActor = { userId: string; ip: string } | 'cli';

export interface ManageClientDeps {
  db: Database;
  config: Pick<Config, 'accessTokenTtl' | 'clientSecretOverlap'>;
}

/** What PATCH /admin/clients/{id} and `tessera clients update` may change. */
export interface ClientChange {
  name?: string;
  scopes?: string[];
  grantTypes?: string[];
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  disabled?: boolean;
}

/** The wire names of the changeable fields, for the audit detail. */
const FIELD_NAMES = {
  name: 'name',
  scopes: 'scopes',
  grantTypes: 'grant_types',
  redirectUris: 'redirect_uris',
  postLogoutRedirectUris: 'post_logout_redirect_uris',
} as const;

const notFound = () => new TesseraError('not_found', { detail: 'no such client' });

/** The audit event's actor fields: the admin and their address, or `by: 'cli'` in the detail. */
function eventOf(by: ClientActor, type: string, clientId: string, detail: Record<string, unknown> = {}) {
  return {
    type,
    target: clientId,
    ...(by === 'cli' ? {} : { userId: by.userId, ip: by.ip }),
    detail: { client_id: clientId, ...detail, ...(by === 'cli' ? { by: 'cli' } : {}) },
  };
}

export function findClients(db: Queryable, p: { limit: number; after?: string }): Promise<ClientPage> {
  return listClients(db, p);
}

/** A registered client; Tessera's own first-party client is no row, so it is not found either. */
export async function getClient(db: Queryable, id: string): Promise<ClientRow> {
  const client = await findClient(db, id);
  if (!client) throw notFound();
  return client;
}

/**
 * Ends what a client holds: every session (so each refresh token dies and the sessions are
 * listed in the feed), its unredeemed authorization codes, and a revocation of its client id kept while an access token
 * issued before now can live, so its client_credentials tokens and verifiers follow.
 */
async function cutOff(
  tx: Queryable,
  config: ManageClientDeps['config'],
  clientId: string,
  reason: string,
): Promise<number> {
  const ended = await endClientSessions(tx, { clientId, reason });
  await expireClientCodes(tx, clientId);
  await recordRevocation(tx, {
    kind: 'client',
    subject: clientId,
    expiresAt: new Date(Date.now() + (config.accessTokenTtl + 60) * 1000),
  });
  return ended;
}

const sameList = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((value, i) => value === b[i]);

/**
 * Changes a client's metadata and its disabled flag in one row-locked transaction: the
 * result, merged with what it keeps, must pass the checks of a registration. Each change
 * is an audit event; nothing changed, nothing recorded.
 */
export async function updateClient(
  deps: ManageClientDeps,
  id: string,
  change: ClientChange,
  by: ClientActor,
  settings: RegistrationSettings,
): Promise<ClientRow> {
  return deps.db.transaction(async (tx) => {
    const current = await lockClient(tx, id);
    if (!current) throw notFound();
    const before = {
      name: current.name,
      scopes: current.scopes,
      grantTypes: current.grant_types,
      redirectUris: current.redirect_uris,
      postLogoutRedirectUris: current.post_logout_redirect_uris,
    };
    const fields = (Object.keys(FIELD_NAMES) as (keyof typeof FIELD_NAMES)[]).filter((f) => change[f] !== undefined);
    // Only a change of metadata is checked: a client registered under older rules can still be disabled.
    let after = before;
    if (fields.length > 0) {
      const checked = checkClientMetadata(
        {
          ...before,
          ...Object.fromEntries(fields.map((f) => [f, change[f]])),
          type: current.type,
          firstParty: current.first_party,
          canIntrospect: current.can_introspect,
          requirePkce: current.require_pkce,
        },
        settings,
      );
      if (!checked.ok) throw new TesseraError(checked.error, { description: checked.description });
      const m = checked.metadata;
      after = {
        name: m.name,
        scopes: m.scopes,
        grantTypes: m.grantTypes,
        redirectUris: m.redirectUris,
        postLogoutRedirectUris: m.postLogoutRedirectUris,
      };
    }
    const changed = (Object.keys(FIELD_NAMES) as (keyof typeof FIELD_NAMES)[]).filter((field) =>
      field === 'name' ? before.name !== after.name : !sameList(before[field], after[field]),
    );

    let client = current;
    if (changed.length > 0) {
      client = (await updateClientMetadata(tx, id, after))!;
      // A scope or grant taken away must not live on in tokens and refresh tokens issued under it.
      const narrowed =
        before.scopes.some((s) => !after.scopes.includes(s)) ||
        before.grantTypes.some((g) => !after.grantTypes.includes(g));
      const ended = narrowed && !current.disabled ? await cutOff(tx, deps.config, id, 'client_changed') : undefined;
      await recordSecurityEvent(
        tx,
        eventOf(by, 'client_updated', id, {
          changed: changed.map((field) => FIELD_NAMES[field]),
          ...(ended !== undefined ? { sessions_ended: ended } : {}),
        }),
      );
    }
    if (change.disabled !== undefined && change.disabled !== current.disabled) {
      client = (await setClientDisabled(tx, id, change.disabled))!;
      if (change.disabled) {
        const ended = await cutOff(tx, deps.config, id, 'client_disabled');
        await recordSecurityEvent(tx, eventOf(by, 'client_disabled', id, { sessions_ended: ended }));
      } else {
        await recordSecurityEvent(tx, eventOf(by, 'client_enabled', id));
      }
    }
    return client;
  });
}

/**
 * A new secret for a confidential client, shown once: the current one keeps working for
 * CLIENT_SECRET_OVERLAP seconds (0: not at all), replacing any previous one still in its
 * overlap, so at most two are ever valid.
 */
export async function rotateClientSecret(
  deps: ManageClientDeps,
  id: string,
  by: ClientActor,
): Promise<{ client: ClientRow; secret: string }> {
  const existing = await findClient(deps.db, id);
  if (!existing) throw notFound();
  if (existing.type !== 'confidential')
    throw new TesseraError('invalid_request', { description: 'A public client has no secret to rotate' });
  const fresh = newClientSecret();
  return deps.db.transaction(async (tx) => {
    const client = await rotateClientSecretHash(tx, {
      id,
      secretHash: fresh.hash,
      overlapSeconds: deps.config.clientSecretOverlap,
    });
    // Deleted in between: there is nothing to rotate any more.
    if (!client) throw notFound();
    await recordSecurityEvent(
      tx,
      eventOf(by, 'client_secret_rotated', id, {
        // Named without "secret": the audit detail redacts such keys.
        overlap_until: client.previous_secret_expires_at
          ? new Date(client.previous_secret_expires_at).toISOString()
          : null,
      }),
    );
    return { client, secret: fresh.secret };
  });
}

/** Deletes a client: its consents, codes and pending requests go with the row; its sessions and tokens end. */
export async function deleteClient(deps: ManageClientDeps, id: string, by: ClientActor): Promise<void> {
  await deps.db.transaction(async (tx) => {
    const deleted = await deleteClientRow(tx, id);
    if (!deleted) throw notFound();
    const ended = await cutOff(tx, deps.config, id, 'client_deleted');
    await recordSecurityEvent(tx, eventOf(by, 'client_deleted', id, { name: deleted.name, sessions_ended: ended }));
  });
}

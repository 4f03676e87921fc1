// Shared set-up of the browser tests of the OpenID Connect login: a listening Tessera, an
// admin, a user, clients registered through POST /admin/clients (contract 6) for relying
// parties that hold only openid-client, and what the hosted pages look like to a test.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { Page } from 'playwright-core';
import { GOOD_PASSWORD, uniqueEmail, userWithRoles } from '../helpers/build.js';
import { startLiveServer, type LiveServer } from '../helpers/live-server.js';
import { startRelyingParty, type RelyingParty } from '../helpers/relying-party.js';

export const SCOPE = 'openid email profile';
/** What the clients may have: more than the relying parties ask for. */
const CLIENT_SCOPES = ['openid', 'email', 'profile', 'offline_access'];

export const XSS_PAYLOADS = ['<img src=x onerror=alert(1)>', '"><script>alert(1)</script>', 'javascript:alert(1)'];

export interface ClientRegistration {
  name: string;
  type: 'public' | 'confidential';
  first_party: boolean;
  can_introspect?: boolean;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  grant_types?: string[];
  scopes?: string[];
}

export interface RegisteredClient {
  client_id: string;
  client_secret?: string;
  [member: string]: unknown;
}

export async function registerClient(
  server: LiveServer,
  adminAuth: Record<string, string>,
  body: ClientRegistration,
): Promise<RegisteredClient> {
  const payload = {
    grant_types: ['authorization_code', 'refresh_token'],
    scopes: CLIENT_SCOPES,
    can_introspect: false,
    ...body,
  };
  const res = await fetch(`${server.url}/admin/clients`, {
    method: 'POST',
    headers: { ...adminAuth, 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  });
  const text = await res.text();
  assert.equal(
    res.status,
    201,
    `POST /admin/clients ${JSON.stringify(payload)}: expected 201, got ${res.status} ${text}`,
  );
  const client = JSON.parse(text) as RegisteredClient;
  assert.equal(typeof client.client_id, 'string', text);
  if (body.type === 'confidential') assert.equal(typeof client.client_secret, 'string', text);
  else assert.equal(client.client_secret, undefined, `a public client has no secret: ${text}`);
  return client;
}

/** A user registered through POST /users (REGISTRATION=open). */
export async function registerUser(server: LiveServer, email = uniqueEmail('oidc'), password = GOOD_PASSWORD) {
  const res = await fetch(`${server.url}/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  assert.equal(res.status, 201, `POST /users: ${res.status} ${await res.text()}`);
  const [row] = await server.services.db.query<{ id: string }>('SELECT id FROM users WHERE email = $1', [email]);
  return { email, password, id: row!.id };
}

export interface World {
  server: LiveServer;
  adminAuth: Record<string, string>;
  user: { email: string; password: string; id: string };
  /** First-party public client (PKCE, auth method none): no consent. */
  firstParty: RelyingParty;
  firstPartyClient: RegisteredClient;
  /** Third-party confidential client (client_secret_basic, may introspect): consent. */
  thirdParty: RelyingParty;
  thirdPartyClient: RegisteredClient;
}

/**
 * A listening Tessera with an admin, a user, and the two relying parties connected to
 * their clients. `names` chooses the clients' display names (hostile ones, for XSS tests)
 * and the user's email (a fixed one, for screenshots that do not change from run to run).
 */
export async function world(
  t: Pick<TestContext, 'after'>,
  env: Record<string, string> = {},
  names: { firstParty?: string; thirdParty?: string; email?: string } = {},
): Promise<World> {
  const server = await startLiveServer(t, {
    RATE_LIMIT_MAX: '100000',
    LOGIN_RATE_LIMIT: '100000',
    REGISTRATION_RATE_LIMIT: '100000',
    TOKEN_RATE_LIMIT: '100000',
    ...env,
  });
  const adminAuth = (await userWithRoles(server, ['admin'])).auth;
  const user = await registerUser(server, names.email);
  const firstParty = await startRelyingParty(t, { issuer: server.url, scope: SCOPE });
  const thirdParty = await startRelyingParty(t, { issuer: server.url, scope: SCOPE });
  const firstPartyClient = await registerClient(server, adminAuth, {
    name: names.firstParty ?? 'Notes (first party)',
    type: 'public',
    first_party: true,
    redirect_uris: [firstParty.callbackUrl],
    post_logout_redirect_uris: [firstParty.postLogoutRedirectUri],
  });
  const thirdPartyClient = await registerClient(server, adminAuth, {
    name: names.thirdParty ?? 'Photo Printer Ltd',
    type: 'confidential',
    first_party: false,
    can_introspect: true,
    redirect_uris: [thirdParty.callbackUrl],
    post_logout_redirect_uris: [thirdParty.postLogoutRedirectUri],
  });
  await firstParty.connect(firstPartyClient.client_id);
  await thirdParty.connect(thirdPartyClient.client_id, thirdPartyClient.client_secret);
  return { server, adminAuth, user, firstParty, firstPartyClient, thirdParty, thirdPartyClient };
}

/** Which hosted page the browser shows, told apart by the design's forms. */
export async function hostedPage(
  page: Page,
): Promise<'login' | 'consent' | 'logout-confirm' | 'relying-party' | 'other'> {
  if (new URL(page.url()).hostname === '127.0.0.1') return 'relying-party';
  if (await page.locator('form[action$="/oauth/authorize/login"] input[name="password"]').count()) return 'login';
  if (await page.locator('form[action$="/oauth/authorize/consent"] button[name="decision"]').count()) return 'consent';
  if (await page.locator('form[action$="/oauth/logout/confirm"]').count()) return 'logout-confirm';
  return 'other';
}

/** Fills and submits the login form; resolves once the next page has loaded. */
export async function submitLogin(page: Page, email: string, password: string): Promise<void> {
  await page.locator('input[name="email"]').fill(email);
  await page.locator('input[name="password"]').fill(password);
  await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    page.locator('form button[type="submit"]').first().click(),
  ]);
}

/** Presses a consent or logout decision button; resolves once the next page has loaded. */
export async function decide(page: Page, value: string): Promise<void> {
  await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    page.locator(`button[name="decision"][value="${value}"]`).click(),
  ]);
}

/**
 * Elements a rendered payload would have created: scripts without src, event-handler
 * attributes, the payload's image, javascript: URLs. (Run in the page; a string, since the
 * tests are type-checked without the DOM library.)
 */
export async function injectedElements(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(`(() => {
    const found = [];
    for (const el of document.querySelectorAll('*')) {
      if (el.tagName === 'SCRIPT' && !el.hasAttribute('src')) found.push('inline <script>');
      if (el.tagName === 'IMG' && el.getAttribute('src') === 'x') found.push('<img src=x>');
      for (const a of el.attributes) {
        if (/^on/i.test(a.name)) found.push(el.tagName + ' ' + a.name);
        if (/^(href|src|action|formaction)$/i.test(a.name) && /^\\s*javascript:/i.test(a.value))
          found.push(el.tagName + ' ' + a.name + '=javascript:');
      }
    }
    return found;
  })()`);
}

/** The nonce of a CSP header's script-src, or undefined. */
export function cspNonce(csp: string | null | undefined): string | undefined {
  return /'nonce-([^']+)'/.exec(csp ?? '')?.[1];
}

// Shared pieces of the authorization code tests without a browser: a cookie-keeping agent
// over app.inject, clients registered through the admin API, and the login form posted as
// a browser would post it.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { GOOD_PASSWORD, uniqueEmail, userWithRoles, type Built } from '../helpers/build.js';

export const FORM = { 'content-type': 'application/x-www-form-urlencoded' } as const;
export const REDIRECT = 'https://app.example/callback';

/** A browser's cookie jar and its requests, as far as the hosted pages care. */
export class Agent {
  readonly cookies = new Map<string, string>();

  constructor(
    private readonly app: FastifyInstance,
    private readonly origin = 'http://localhost:3000',
  ) {}

  private keep(res: LightMyRequestResponse): LightMyRequestResponse {
    for (const c of res.cookies as { name: string; value: string; maxAge?: number }[]) {
      if (c.maxAge === 0 || c.value === '') this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
    return res;
  }

  async get(url: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    return this.keep(await this.app.inject({ method: 'GET', url, headers, cookies: Object.fromEntries(this.cookies) }));
  }

  async post(
    url: string,
    fields: Record<string, string>,
    headers: Record<string, string> = { origin: this.origin },
  ): Promise<LightMyRequestResponse> {
    return this.keep(
      await this.app.inject({
        method: 'POST',
        url,
        headers: { ...FORM, ...headers },
        cookies: Object.fromEntries(this.cookies),
        payload: new URLSearchParams(fields).toString(),
      }),
    );
  }
}

/** The hidden inputs of the page's form. */
export function hiddenFields(html: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields[m[1]!] = m[2]!
      .replace(/&amp;/g, '&')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'");
  }
  return fields;
}

export interface RegisteredClient {
  client_id: string;
  client_secret?: string;
}

/** A client registered by an admin over the API (contract section 6). */
export async function registerClient(
  built: Pick<Built, 'app' | 'services'>,
  body: Record<string, unknown>,
): Promise<RegisteredClient> {
  const admin = await userWithRoles(built, ['admin']);
  const res = await built.app.inject({
    method: 'POST',
    url: '/admin/clients',
    headers: admin.auth,
    payload: {
      name: 'Test app',
      redirect_uris: [REDIRECT],
      post_logout_redirect_uris: ['https://app.example/bye'],
      scopes: ['openid', 'email', 'profile', 'offline_access'],
      grant_types: ['authorization_code', 'refresh_token'],
      ...body,
    },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json<RegisteredClient>();
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function authorizeUrl(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v);
  return `/oauth/authorize?${q.toString()}`;
}

/** A user with a password, made through registration. */
export async function newUser(app: FastifyInstance): Promise<{ email: string; password: string }> {
  const email = uniqueEmail('oidc');
  const res = await app.inject({ method: 'POST', url: '/users', payload: { email, password: GOOD_PASSWORD } });
  assert.equal(res.statusCode, 201, res.body);
  return { email, password: GOOD_PASSWORD };
}

/** Submits the login page the last answer showed. */
export async function submitLogin(
  agent: Agent,
  page: LightMyRequestResponse,
  creds: { email: string; password: string },
  extra: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  return agent.post('/oauth/authorize/login', { ...hiddenFields(page.body), ...creds, ...extra });
}

/** The query of a redirect to the client. */
export function callbackOf(res: LightMyRequestResponse): URLSearchParams {
  assert.ok([302, 303].includes(res.statusCode), `${res.statusCode} ${res.body.slice(0, 300)}`);
  const location = String(res.headers.location);
  assert.ok(location.startsWith(REDIRECT) || location.startsWith('https://app.example/'), location);
  return new URL(location).searchParams;
}

export async function exchange(
  app: FastifyInstance,
  fields: Record<string, string | undefined>,
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) body.set(k, v);
  return app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: { ...FORM, ...headers },
    payload: body.toString(),
  });
}

/** An authorization request URL with PKCE for REDIRECT; scope openid unless extra says otherwise. */
export function codeRequest(
  clientId: string,
  challenge: string,
  extra: Record<string, string | undefined> = {},
): string {
  return authorizeUrl({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    scope: 'openid',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  });
}

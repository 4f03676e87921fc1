// A real OpenID Connect relying party on 127.0.0.1: a node:http server whose only OAuth
// code is openid-client (v6), used unmodified through its public API, the way an app
// would use it. Whatever it validates (state, iss, PKCE, the ID token's signature, iss,
// aud, nonce, exp) is validated by openid-client, not by Tessera's own test code.
//
//   GET /login?…      a new authorization request (PKCE S256, state, nonce), 302 to Tessera;
//                     query parameters are passed on (login_hint, prompt, max_age, scope,
//                     state, nonce …), so a test can send chosen values
//   GET /callback     authorizationCodeGrant(): the tokens and ID token claims, or the error
//   GET /logout       302 to the end_session_endpoint with id_token_hint (the last ID token),
//                     post_logout_redirect_uri (/logged-out) and state; ?hint=no sends
//                     client_id instead of the hint
//   GET /logged-out   where Tessera sends the browser back after logout
//   GET /frame        a page of this origin that frames a new authorization request
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import * as oidc from 'openid-client';

export interface CallbackResult {
  /** The URL the browser came back to (code, state, iss, or error). */
  url: string;
  state: string | null;
  tokens?: oidc.TokenEndpointResponse;
  /** The ID token's claims, as openid-client validated them. */
  claims?: oidc.IDToken;
  error?: RelyingPartyError;
}

/** An openid-client failure, flattened: `error` is the OAuth error code when there is one. */
export interface RelyingPartyError {
  name: string;
  message: string;
  code?: string;
  error?: string;
  error_description?: string;
  status?: number;
}

export interface LoggedOut {
  url: string;
  state: string | null;
}

interface Pending {
  state: string;
  nonce: string;
  codeVerifier: string;
}

const html = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body>${body}</body></html>`;

function escapeHtml(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

export function describeError(error: unknown): RelyingPartyError {
  const e = error as Partial<RelyingPartyError> & { cause?: unknown };
  const out: RelyingPartyError = { name: String(e?.name ?? 'Error'), message: String(e?.message ?? error) };
  if (typeof e.code === 'string') out.code = e.code;
  if (typeof e.error === 'string') out.error = e.error;
  if (typeof e.error_description === 'string') out.error_description = e.error_description;
  if (typeof e.status === 'number') out.status = e.status;
  return out;
}

export class RelyingParty {
  /** Every callback, in order. */
  readonly callbacks: CallbackResult[] = [];
  readonly loggedOut: LoggedOut[] = [];
  /** The authorization URLs /login and /frame sent the browser to. */
  readonly authorizationUrls: URL[] = [];
  private readonly pending = new Map<string, Pending>();
  private configuration: oidc.Configuration | undefined;
  private lastIdToken: string | undefined;

  constructor(
    readonly url: string,
    private readonly issuer: string,
    readonly scope: string,
  ) {}

  get callbackUrl(): string {
    return `${this.url}/callback`;
  }

  get postLogoutRedirectUri(): string {
    return `${this.url}/logged-out`;
  }

  /** Where a browser starts a login: this RP's /login with the given extra authorization parameters. */
  loginUrl(params: Record<string, string> = {}): string {
    const query = new URLSearchParams(params).toString();
    return `${this.url}/login${query ? `?${query}` : ''}`;
  }

  get config(): oidc.Configuration {
    if (!this.configuration) throw new Error('the relying party has no client yet: call connect()');
    return this.configuration;
  }

  /**
   * Discovers the issuer (http on localhost, hence allowInsecureRequests) for a registered
   * client: confidential with client_secret_basic, or public (auth method none).
   */
  async connect(clientId: string, clientSecret?: string): Promise<this> {
    this.configuration = await oidc.discovery(
      new URL(this.issuer),
      clientId,
      clientSecret,
      clientSecret === undefined ? oidc.None() : oidc.ClientSecretBasic(clientSecret),
      { execute: [oidc.allowInsecureRequests] },
    );
    return this;
  }

  /** The last successful callback (fails when the last callback was an error). */
  lastSuccess(): Required<Pick<CallbackResult, 'tokens' | 'claims'>> & CallbackResult {
    const last = this.callbacks.at(-1);
    if (!last) throw new Error('the relying party got no callback');
    if (!last.tokens || !last.claims) throw new Error(`the last callback failed: ${JSON.stringify(last.error)}`);
    return last as Required<Pick<CallbackResult, 'tokens' | 'claims'>> & CallbackResult;
  }

  /** refreshTokenGrant(): the new tokens, or the error (invalid_grant once the session ended). */
  async refresh(refreshToken: string): Promise<{ tokens?: oidc.TokenEndpointResponse; error?: RelyingPartyError }> {
    try {
      return { tokens: await oidc.refreshTokenGrant(this.config, refreshToken) };
    } catch (error) {
      return { error: describeError(error) };
    }
  }

  /** tokenIntrospection() with this RP's client (one allowed to introspect). */
  async introspect(token: string): Promise<oidc.IntrospectionResponse> {
    return oidc.tokenIntrospection(this.config, token);
  }

  /** fetchUserInfo() for the subject of the last ID token. */
  async userinfo(accessToken: string, sub: string): Promise<oidc.UserInfoResponse> {
    return oidc.fetchUserInfo(this.config, accessToken, sub);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const current = new URL(req.url ?? '/', this.url);
    const send = (status: number, body: string, headers: Record<string, string> = {}) =>
      void res
        .writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...headers })
        .end(body);
    switch (current.pathname) {
      case '/login':
        return send(302, '', { location: (await this.authorizationUrl(current.searchParams)).href });
      case '/frame': {
        const src = await this.authorizationUrl(current.searchParams);
        return send(
          200,
          html('framing', `<h1>framing</h1><iframe id="framed" src="${escapeHtml(src.href)}"></iframe>`),
        );
      }
      case '/callback':
        return send(200, html('callback', await this.callback(current)));
      case '/logout':
        return send(302, '', { location: this.endSessionUrl(current.searchParams).href });
      case '/logged-out': {
        this.loggedOut.push({ url: current.href, state: current.searchParams.get('state') });
        return send(200, html('logged out', '<p id="result">logged out at the relying party</p>'));
      }
      default:
        return send(404, html('not found', 'not found'));
    }
  }

  private async authorizationUrl(query: URLSearchParams): Promise<URL> {
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const extra = Object.fromEntries(query);
    const pending: Pending = {
      state: extra.state ?? oidc.randomState(),
      nonce: extra.nonce ?? oidc.randomNonce(),
      codeVerifier,
    };
    this.pending.set(pending.state, pending);
    const url = oidc.buildAuthorizationUrl(this.config, {
      redirect_uri: this.callbackUrl,
      scope: this.scope,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      ...extra,
      state: pending.state,
      nonce: pending.nonce,
    });
    this.authorizationUrls.push(url);
    return url;
  }

  private async callback(current: URL): Promise<string> {
    const state = current.searchParams.get('state');
    const result: CallbackResult = { url: current.href, state };
    this.callbacks.push(result);
    const pending = state === null ? undefined : this.pending.get(state);
    if (!pending) {
      // openid-client itself reports the error response (or the missing state) here.
      result.error = await this.grant(current, { expectedState: oidc.skipStateCheck }, result);
    } else {
      this.pending.delete(pending.state);
      result.error = await this.grant(
        current,
        {
          pkceCodeVerifier: pending.codeVerifier,
          expectedState: pending.state,
          expectedNonce: pending.nonce,
          idTokenExpected: true,
        },
        result,
      );
    }
    if (result.error)
      return `<p id="result">error</p><pre id="error">${escapeHtml(JSON.stringify(result.error))}</pre>`;
    return `<p id="result">signed in</p><pre id="sub">${escapeHtml(String(result.claims?.sub))}</pre>`;
  }

  private async grant(
    current: URL,
    checks: oidc.AuthorizationCodeGrantChecks,
    result: CallbackResult,
  ): Promise<RelyingPartyError | undefined> {
    try {
      const tokens = await oidc.authorizationCodeGrant(this.config, current, checks);
      result.tokens = tokens;
      result.claims = tokens.claims();
      this.lastIdToken = tokens.id_token;
      return undefined;
    } catch (error) {
      return describeError(error);
    }
  }

  private endSessionUrl(query: URLSearchParams): URL {
    const params: Record<string, string> = {
      post_logout_redirect_uri: this.postLogoutRedirectUri,
      state: query.get('state') ?? oidc.randomState(),
    };
    if (query.get('hint') === 'no') params.client_id = this.config.clientMetadata().client_id;
    else if (this.lastIdToken) params.id_token_hint = this.lastIdToken;
    return oidc.buildEndSessionUrl(this.config, params);
  }
}

/**
 * Starts the relying party on a free port of 127.0.0.1 (closed after the test). Its
 * callbackUrl and postLogoutRedirectUri are known at once, to register a client with;
 * then connect() it to that client.
 */
export async function startRelyingParty(
  t: Pick<TestContext, 'after'>,
  options: { issuer: string; scope?: string },
): Promise<RelyingParty> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const rp = new RelyingParty(`http://127.0.0.1:${port}`, options.issuer, options.scope ?? 'openid email profile');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    rp.handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`relying party failure: ${describeError(error).message}`);
    });
  });
  t.after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return rp;
}

// A client's registered metadata checked as a pure function: its type, grants, redirect
// URIs (RFC 6749 3.1.2, RFC 8252 7, RFC 9700 4.1), scopes and rights, with the defaults
// filled in. Both the admin API and the CLI register through it.

type ClientType = 'confidential' | 'public';

export const CLIENT_GRANT_TYPES = ['client_credentials', 'authorization_code', 'refresh_token'] as const;
type ClientGrantType = (typeof CLIENT_GRANT_TYPES)[number];

/** What a registration asks for; everything but the name and scopes has a default. */
export interface ClientMetadataInput {
  name: string;
  type?: string;
  grantTypes?: readonly string[];
  redirectUris?: readonly string[];
  postLogoutRedirectUris?: readonly string[];
  scopes: readonly string[];
  firstParty?: boolean;
  canIntrospect?: boolean;
  requirePkce?: boolean;
}

/** The metadata to store: checked, defaults applied, duplicates dropped (first one kept). */
export interface ClientMetadata {
  name: string;
  type: ClientType;
  grantTypes: ClientGrantType[];
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  scopes: string[];
  firstParty: boolean;
  canIntrospect: boolean;
  requirePkce: boolean;
}

export type ClientMetadataCheck =
  | { ok: true; metadata: ClientMetadata }
  | { ok: false; error: 'invalid_request' | 'invalid_scope'; description: string };

export const CLIENT_LIMITS = { name: 100, uri: 2048, uris: 20, scopes: 100 } as const;

/** RFC 6749 3.3 scope-token. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;
/**
 * The characters RFC 3986 allows in a URI, less `*` (no wildcards here, ever), and less
 * white space, controls, backslashes and non-ASCII, which parsers disagree about.
 */
const URI_CHARACTERS = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()+,;=%]+$/;
const BAD_PERCENT = /%(?![0-9A-Fa-f]{2})/;
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
/** RFC 8252 7.3 loopback addresses, and `localhost`, as the WHATWG parser names them. */
const LOOPBACK_HOSTS: readonly string[] = ['127.0.0.1', '[::1]', 'localhost'];

/**
 * Why a redirect URI (or post-logout redirect URI) may not be registered, or undefined
 * when it may. It is stored and compared as given, so only what a browser would follow to
 * the place the string names gets through: https anywhere; http to a loopback host (and,
 * outside production, to any host); a private-use scheme of a native app, which RFC 8252
 * 7.1 has contain a period (`com.example.app:/callback`). No fragment, no user info.
 */
export function checkRedirectUri(uri: string, settings: { production: boolean }): string | undefined {
  if (typeof uri !== 'string' || uri.length === 0) return 'is empty';
  if (uri.length > CLIENT_LIMITS.uri) return `is longer than ${CLIENT_LIMITS.uri} characters`;
  if (uri.includes('*')) return 'has a wildcard (*); redirect URIs are matched exactly';
  if (!URI_CHARACTERS.test(uri)) return 'has characters a URI may not hold (white space, controls, \\, non-ASCII)';
  if (BAD_PERCENT.test(uri)) return 'has a malformed percent-encoding';
  if (uri.includes('#')) return 'has a fragment (RFC 6749 3.1.2)';
  const scheme = SCHEME.exec(uri)?.[1]?.toLowerCase();
  if (!scheme) return 'is not an absolute URI';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not a valid URI';
  }
  const rest = uri.slice(scheme.length + 1);
  // The authority, when there is one; the parser reads user info out of it.
  const authority = rest.startsWith('//') ? rest.slice(2).split(/[/?]/, 1)[0]! : undefined;
  if (url.username || url.password || authority?.includes('@')) return 'has user info';

  if (scheme === 'https' || scheme === 'http') {
    // `https:host` parses, but as something other than the string says.
    if (authority === undefined || url.hostname === '') return 'has no host';
    if (scheme === 'http' && settings.production && !LOOPBACK_HOSTS.includes(url.hostname))
      return 'uses http to a host that is not loopback (127.0.0.1, [::1], localhost); use https';
    return undefined;
  }
  if (!scheme.includes('.'))
    return `uses the scheme ${scheme}:, which is neither https, loopback http, nor a private-use scheme like com.example.app:`;
  if (rest.length === 0) return 'has nothing after its scheme';
  return undefined;
}

const unique = <T>(values: readonly T[]): T[] => [...new Set(values)];

/** Checks a registration and fills in its defaults. */
export function checkClientMetadata(
  input: ClientMetadataInput,
  settings: { production: boolean },
): ClientMetadataCheck {
  const refuse = (description: string, error: 'invalid_request' | 'invalid_scope' = 'invalid_request') =>
    ({ ok: false, error, description }) as const;

  const name = typeof input.name === 'string' ? input.name.trim() : '';
  if (!name || name.length > CLIENT_LIMITS.name || /\p{Cc}/u.test(name)) return refuse('The client name is invalid');

  const type = input.type ?? 'confidential';
  if (type !== 'confidential' && type !== 'public') return refuse('The client type must be confidential or public');
  const isPublic = type === 'public';

  const uriLists = [
    ['redirect_uris', input.redirectUris ?? []],
    ['post_logout_redirect_uris', input.postLogoutRedirectUris ?? []],
  ] as const;
  for (const [field, uris] of uriLists) {
    if (uris.length > CLIENT_LIMITS.uris) return refuse(`At most ${CLIENT_LIMITS.uris} ${field} may be registered`);
    for (const [i, uri] of uris.entries()) {
      const problem = checkRedirectUri(uri, settings);
      if (problem) return refuse(`${field}[${i}] ${problem}`);
    }
  }
  const redirectUris = unique(input.redirectUris ?? []);
  const postLogoutRedirectUris = unique(input.postLogoutRedirectUris ?? []);

  // Without grants named: today's machine client, or an app when it gave redirect URIs
  // (a public client is always an app).
  const grants =
    input.grantTypes ??
    (redirectUris.length > 0 || isPublic ? ['authorization_code', 'refresh_token'] : ['client_credentials']);
  if (grants.length === 0) return refuse('A client needs at least one grant type');
  if (!grants.every((g) => (CLIENT_GRANT_TYPES as readonly string[]).includes(g)))
    return refuse(`Unsupported grant type for a client (supported: ${CLIENT_GRANT_TYPES.join(', ')})`);
  const grantTypes = unique(grants) as ClientGrantType[];

  if (isPublic) {
    // A public client holds no secret, so nothing may rest on its authenticating.
    if (grantTypes.includes('client_credentials'))
      return refuse('A public client may not use the client_credentials grant');
    if (input.canIntrospect) return refuse('A public client may not introspect (can_introspect)');
    if (input.requirePkce === false) return refuse('A public client always uses PKCE (require_pkce may not be false)');
  }

  const authorizationCode = grantTypes.includes('authorization_code');
  if (grantTypes.includes('refresh_token') && !authorizationCode)
    return refuse('The refresh_token grant needs the authorization_code grant');
  if (authorizationCode && redirectUris.length === 0)
    return refuse('The authorization_code grant needs at least one redirect URI (redirect_uris)');
  if (!authorizationCode && (redirectUris.length > 0 || postLogoutRedirectUris.length > 0))
    return refuse('Redirect URIs are only for clients with the authorization_code grant');

  if (input.scopes.length > CLIENT_LIMITS.scopes) return refuse(`At most ${CLIENT_LIMITS.scopes} scopes`);
  if (!input.scopes.every((s) => typeof s === 'string' && SCOPE_TOKEN.test(s)))
    return refuse('A scope is not a valid scope token', 'invalid_scope');

  return {
    ok: true,
    metadata: {
      name,
      type,
      grantTypes,
      redirectUris,
      postLogoutRedirectUris,
      scopes: unique(input.scopes),
      firstParty: input.firstParty ?? false,
      canIntrospect: input.canIntrospect ?? false,
      requirePkce: isPublic ? true : (input.requirePkce ?? true),
    },
  };
}

// Scope and audience decisions for a token request, as pure functions.
export const USER_SCOPES = ['openid', 'profile', 'email'] as const;

/** The granted scope: the requested subset of what is allowed, or all of it by default. */
export function resolveScope(requested: string | undefined, allowed: readonly string[]): string | undefined {
  if (requested === undefined) return allowed.join(' ');
  const asked = requested.split(' ').filter(Boolean);
  if (asked.length === 0 || requested !== requested.trim() || /\s{2,}/.test(requested)) return undefined;
  if (!asked.every((s) => allowed.includes(s))) return undefined;
  return [...new Set(asked)].join(' ');
}

/** RFC 8707: the resource must be one of the configured audiences; none means the default. */
export function resolveAudience(
  resource: string | undefined,
  settings: { defaultAudience: string; audiences: readonly string[] },
): string | undefined {
  if (resource === undefined) return settings.defaultAudience;
  return settings.audiences.includes(resource) ? resource : undefined;
}

export function isSubsetScope(requested: string, granted: string): boolean {
  const have = new Set(granted.split(' '));
  const asked = requested.split(' ').filter(Boolean);
  return asked.length > 0 && asked.every((s) => have.has(s));
}

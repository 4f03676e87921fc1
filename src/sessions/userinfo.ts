// The claims /userinfo answers for a user and the scope granted (OIDC Core 5.4): email and
// email_verified for `email`, updated_at for `profile`; sub and roles always.
import type { UserRow } from '../db/repositories/users.js';

export interface UserinfoClaims {
  sub: string;
  email?: string;
  email_verified?: boolean;
  updated_at?: number;
  roles: string[];
}

export function userinfoClaims(user: UserRow, scope: string): UserinfoClaims {
  const scopes = new Set(scope.split(' '));
  const claims: UserinfoClaims = { sub: user.id, roles: user.roles };
  if (scopes.has('email')) {
    claims.email = user.email;
    claims.email_verified = user.email_verified_at !== null && user.email_verified_at !== undefined;
  }
  if (scopes.has('profile')) claims.updated_at = Math.floor(new Date(user.updated_at).getTime() / 1000);
  return claims;
}

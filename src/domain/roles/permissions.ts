// Roles map to named permissions in this one table; anything not listed is denied.
export type Role = 'admin' | 'moderator' | 'user';

export type Permission =
  | 'self:read'
  | 'self:write'
  | 'users:read'
  | 'users:disable'
  | 'users:write'
  | 'sessions:end-any'
  | 'clients:manage'
  | 'keys:manage'
  | 'audit:read'
  | 'metrics:read';

const SELF: Permission[] = ['self:read', 'self:write'];

export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = {
  admin: [
    ...SELF,
    'users:read',
    'users:disable',
    'users:write',
    'sessions:end-any',
    'clients:manage',
    'keys:manage',
    'audit:read',
    'metrics:read',
  ],
  moderator: [...SELF, 'users:read', 'users:disable'],
  user: SELF,
};

function isRole(value: unknown): value is Role {
  return typeof value === 'string' && Object.hasOwn(ROLE_PERMISSIONS, value);
}

export function hasPermission(roles: readonly string[], permission: Permission): boolean {
  return roles.some((role) => isRole(role) && ROLE_PERMISSIONS[role].includes(permission));
}

export interface UserChange {
  roles?: readonly string[];
  disabled?: boolean;
}

/**
 * Who may change whom: admins anything; moderators only enable or disable plain users
 * (users whose only role is `user`). Everything else is refused.
 */
export function mayChangeUser(
  actorRoles: readonly string[],
  targetRoles: readonly string[],
  change: UserChange,
): boolean {
  if (change.roles !== undefined && !hasPermission(actorRoles, 'users:write')) return false;
  if (change.disabled !== undefined) {
    if (hasPermission(actorRoles, 'users:write')) return true;
    const plain = targetRoles.length > 0 && targetRoles.every((r) => r === 'user');
    return hasPermission(actorRoles, 'users:disable') && plain;
  }
  return change.roles !== undefined;
}

// ASVS V8 (authorization): the README's table of roles and permissions is the code's, and
// the field rules it states (who may change which fields of a user) are the ones enforced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mayChangeUser, ROLE_PERMISSIONS, type Permission, type Role } from '../../src/domain/roles/permissions.js';
import { section } from './readme-settings.js';

const ROLES: Role[] = ['admin', 'moderator', 'user'];
/** The one row that names its permissions in words. */
const IN_WORDS: Record<string, Permission> = {
  sessions: 'sessions:end-any',
  clients: 'clients:manage',
  keys: 'keys:manage',
  audit: 'audit:read',
  metrics: 'metrics:read',
};

test('the README’s permission table is the code’s, field rules included', () => {
  // The section's first table (its subsections have tables of their own).
  const lines = section('Roles, permissions and clients').split('\n');
  const head = lines.findIndex((l) => l.startsWith('| permission'));
  const end = lines.findIndex((l, i) => i > head && !l.startsWith('|'));
  const rows = lines.slice(head + 1, end < 0 ? undefined : end).filter((l) => !l.startsWith('|---'));
  assert.ok(rows.length >= 4, 'the table is there');
  const documented = new Set<Permission>();
  for (const row of rows) {
    const [, what, ...marks] = row.split('|').map((c) => c.trim());
    let permissions = [...what!.matchAll(/`([a-z]+:[a-z*-]+)`/g)].map((m) => m[1]!);
    permissions = permissions.flatMap((p) => (p === 'self:*' ? ['self:read', 'self:write'] : [p]));
    if (permissions.length === 0) {
      permissions = Object.entries(IN_WORDS)
        .filter(([word]) => what!.includes(word))
        .map(([, p]) => p);
    }
    assert.ok(permissions.length > 0, `row names its permissions: ${row}`);
    ROLES.forEach((role, i) => {
      for (const p of permissions) {
        assert.equal(marks[i] === '✓', ROLE_PERMISSIONS[role].includes(p as Permission), `${role} / ${p}`);
        documented.add(p as Permission);
      }
    });
  }
  const all = new Set(ROLES.flatMap((r) => ROLE_PERMISSIONS[r]));
  assert.deepEqual(
    [...all].filter((p) => !documented.has(p)),
    [],
    'every permission has its row',
  );

  // Field rules of the table: a moderator changes only `disabled`, and only of plain users.
  assert.equal(mayChangeUser(['moderator'], ['user'], { disabled: true }), true);
  assert.equal(mayChangeUser(['moderator'], ['user'], { roles: ['user', 'moderator'] }), false);
  assert.equal(mayChangeUser(['moderator'], ['moderator'], { disabled: true }), false);
  assert.equal(mayChangeUser(['moderator'], ['admin'], { disabled: true }), false);
  assert.equal(mayChangeUser(['user'], ['user'], { disabled: true }), false);
  assert.equal(mayChangeUser(['admin'], ['admin', 'user'], { roles: ['user'], disabled: true }), true);
});

// The alert rules as pure functions: what each event feeds, thresholds, and the dedupe
// that turns a flood into one alert with a count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  dedupeDecision,
  groupMatches,
  matchEvent,
  summarize,
  type AlertSettings,
  type RuleEvent,
} from '../../src/audit/alert-rules.js';
import { retryDelayMs } from '../../src/audit/webhook.js';

const settings: AlertSettings = {
  failedLoginsPerAccount: 5,
  failedLoginsPerIp: 20,
  mfaFailuresPerAccount: 5,
  captchaFailuresPerIp: 3,
  refusalsPerIp: 20,
  windowSeconds: 900,
  dedupWindowSeconds: 3600,
};

let nextId = 1;
const at = (seconds: number) => new Date(Date.UTC(2030, 0, 1) + seconds * 1000);
function event(type: string, fields: Partial<RuleEvent> = {}): RuleEvent {
  return {
    id: nextId++,
    created_at: at(0),
    type,
    user_id: null,
    session_id: null,
    ip: null,
    actor: null,
    target: null,
    detail: {},
    ...fields,
  };
}

test('failed logins feed the per-account and the per-IP rule; captcha failures the per-IP captcha rule', () => {
  const matches = matchEvent(
    event('login_failure', {
      ip: '192.0.2.9',
      user_id: 'u1',
      detail: { account: 'acct:abc', reason: 'wrong_password' },
    }),
    settings,
  );
  assert.deepEqual(
    matches.map((m) => [m.rule, m.subject, m.threshold?.limit]),
    [
      ['failed_logins_account', 'acct:abc', 5],
      ['failed_logins_ip', '192.0.2.9', 20],
    ],
  );
  assert.deepEqual(
    matchEvent(event('captcha_failed', { ip: '192.0.2.9' }), settings).map((m) => m.rule),
    ['captcha_failures_ip'],
  );
  // A threshold of 0 turns a rule off.
  assert.deepEqual(
    matchEvent(event('login_failure', { ip: '192.0.2.9', detail: { account: 'acct:abc' } }), {
      ...settings,
      failedLoginsPerAccount: 0,
      failedLoginsPerIp: 0,
    }),
    [],
  );
});

test('refresh reuse, key revocation and a new admin alert at once, without a threshold', () => {
  assert.deepEqual(
    matchEvent(event('refresh_reuse', { user_id: 'u1', session_id: 's1' }), settings).map((m) => [
      m.rule,
      m.subject,
      m.threshold,
    ]),
    [['refresh_reuse', 'u1', undefined]],
  );
  assert.deepEqual(
    matchEvent(event('key_revoked', { detail: { kid: 'k1', purpose: 'access' } }), settings).map((m) => [
      m.rule,
      m.subject,
    ]),
    [['key_revoked', 'k1']],
  );
  assert.deepEqual(
    matchEvent(
      event('roles_changed', { user_id: 'u2', detail: { from: ['user'], to: ['admin', 'user'] } }),
      settings,
    ).map((m) => [m.rule, m.subject]),
    [['admin_role_granted', 'u2']],
  );
  assert.deepEqual(
    matchEvent(event('user_registered', { user_id: 'u3', detail: { roles: ['admin'] } }), settings).map((m) => m.rule),
    ['admin_role_granted'],
  );
  // Keeping or losing admin is not a grant; neither are ordinary events.
  assert.deepEqual(
    matchEvent(
      event('roles_changed', { user_id: 'u2', detail: { from: ['admin'], to: ['admin', 'moderator'] } }),
      settings,
    ),
    [],
  );
  assert.deepEqual(
    matchEvent(event('roles_changed', { user_id: 'u2', detail: { from: ['admin'], to: ['user'] } }), settings),
    [],
  );
  for (const type of ['login_success', 'token_refreshed', 'key_created', 'audit_read', 'user_registered'])
    assert.deepEqual(matchEvent(event(type), settings), []);
});

test('one batch groups by rule and subject', () => {
  const flood = Array.from({ length: 30 }, (_, i) =>
    event('login_failure', { created_at: at(i), ip: '192.0.2.9', detail: { account: 'acct:abc' } }),
  );
  const other = event('login_failure', { created_at: at(31), ip: '198.51.100.1', detail: { account: 'acct:xyz' } });
  const groups = groupMatches([...flood, other], settings);
  const byKey = Object.fromEntries(groups.map((g) => [`${g.match.rule}:${g.match.subject}`, g]));
  assert.equal(byKey['failed_logins_account:acct:abc']!.eventIds.length, 30);
  assert.equal(byKey['failed_logins_ip:192.0.2.9']!.eventIds.length, 30);
  assert.deepEqual(byKey['failed_logins_account:acct:xyz']!.eventIds, [other.id]);
  assert.deepEqual(byKey['failed_logins_account:acct:abc']!.lastAt, at(29));
});

test('dedupe: new alert, then merges within the window, then a new one after it', () => {
  assert.equal(dedupeDecision(undefined, at(0), 3600), 'new');
  assert.equal(dedupeDecision({ first_seen_at: at(0) }, at(10), 3600), 'merge');
  assert.equal(dedupeDecision({ first_seen_at: at(0) }, at(3599), 3600), 'merge');
  assert.equal(dedupeDecision({ first_seen_at: at(0) }, at(3600), 3600), 'new');
});

test('a flood over several batches raises exactly one alert, whose count grows', () => {
  // The engine's loop, with an in-memory store: count in window per subject, dedupe per (rule, subject).
  const stored: { rule: string; subject: string; count: number; first_seen_at: Date }[] = [];
  const seen: RuleEvent[] = [];
  const raised: string[] = [];
  const s = { ...settings, failedLoginsPerIp: 0 };
  const runBatch = (batch: RuleEvent[]) => {
    seen.push(...batch);
    for (const group of groupMatches(batch, s)) {
      const { match } = group;
      let count = group.eventIds.length;
      if (match.threshold) {
        count = seen.filter(
          (e) =>
            match.threshold!.types.includes(e.type) &&
            e.detail.account === match.subject &&
            e.created_at > new Date(group.lastAt.getTime() - s.windowSeconds * 1000),
        ).length;
        if (count < match.threshold.limit) continue;
      }
      const existing = stored.filter((a) => a.rule === match.rule && a.subject === match.subject).at(-1);
      if (existing && dedupeDecision(existing, group.lastAt, s.dedupWindowSeconds) === 'merge') {
        existing.count += group.eventIds.length;
        continue;
      }
      stored.push({ rule: match.rule, subject: match.subject, count, first_seen_at: group.lastAt });
      raised.push(summarize(match.rule, count, match.detail, s));
    }
  };
  let second = 0;
  const failures = (n: number) =>
    Array.from({ length: n }, () =>
      event('login_failure', { created_at: at(second++), ip: '192.0.2.9', detail: { account: 'acct:flood' } }),
    );
  runBatch(failures(3)); // under the threshold
  assert.equal(raised.length, 0);
  runBatch(failures(4)); // crosses it: 7 in the window
  runBatch(failures(50));
  runBatch(failures(50));
  assert.deepEqual(raised, ['7 failed password checks for one account name within 900 s']);
  assert.equal(stored.length, 1);
  assert.equal(stored[0]!.count, 107);
  // An hour later the same flood is news again.
  second += 3600;
  runBatch(failures(10));
  assert.equal(raised.length, 2);
});

test('webhook retries back off on a schedule of seconds to hours, capped, with at most 10 % jitter', () => {
  const none = () => 0;
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20].map((n) => retryDelayMs(n, none) / 1000),
    [5, 30, 120, 600, 1800, 3600, 7200, 18_000, 36_000, 36_000, 36_000],
  );
  assert.equal(
    retryDelayMs(1, () => 0.999_999),
    5500,
  );
  for (let i = 0; i < 100; i++) {
    const ms = retryDelayMs(3);
    assert.ok(ms >= 120_000 && ms <= 132_000, `${ms} ms`);
  }
});

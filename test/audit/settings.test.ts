// The audit, alert and metrics settings: defaults, and hostile values refused with a
// message naming the variable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config/config.js';

const base = { NODE_ENV: 'test', MASTER_KEY: 'x', DATA_DIR: 'memory://settings' };

test('defaults', () => {
  const config = loadConfig(base);
  assert.deepEqual(config.audit, {
    retentionDays: 365,
    sealIntervalMs: 500,
    refusalsPerIp: 10,
    checkpointUrl: undefined,
    exportUrl: undefined,
  });
  assert.deepEqual(config.alerts, {
    webhookUrl: undefined,
    webhookTimeoutMs: 3000,
    webhookRetries: 8,
    webhookSecret: undefined,
    failedLoginsPerAccount: 10,
    failedLoginsPerIp: 50,
    captchaFailuresPerIp: 20,
    mfaFailuresPerAccount: 5,
    refusalsPerIp: 20,
    windowSeconds: 900,
    dedupWindowSeconds: 3600,
    checkIntervalMs: 1000,
  });
  assert.deepEqual(config.metrics, { port: undefined, host: '127.0.0.1' });
  assert.deepEqual(loadConfig({ ...base, HOST: '0.0.0.0', METRICS_PORT: '9464' }).metrics, {
    port: 9464,
    host: '0.0.0.0',
  });
  assert.deepEqual(loadConfig({ ...base, METRICS_PORT: '9464', METRICS_HOST: '10.0.0.5' }).metrics, {
    port: 9464,
    host: '10.0.0.5',
  });
  assert.equal(
    loadConfig({ ...base, ALERT_WEBHOOK_URL: 'https://hooks.example.com/T0/B1/secret' }).alerts.webhookUrl,
    'https://hooks.example.com/T0/B1/secret',
  );
});

test('hostile values stop the start, naming the variable', () => {
  const cases: [Record<string, string>, string][] = [
    [{ ALERT_WEBHOOK_URL: 'ftp://hooks.example.com/x' }, 'ALERT_WEBHOOK_URL'],
    [{ ALERT_WEBHOOK_URL: 'javascript:alert(1)' }, 'ALERT_WEBHOOK_URL'],
    [{ ALERT_WEBHOOK_URL: 'https://exa mple.com/' }, 'ALERT_WEBHOOK_URL'],
    [{ ALERT_WEBHOOK_URL: 'http://[::1' }, 'ALERT_WEBHOOK_URL'],
    [{ ALERT_WEBHOOK_TIMEOUT_MS: '10' }, 'ALERT_WEBHOOK_TIMEOUT_MS'],
    [{ ALERT_WEBHOOK_RETRIES: '100' }, 'ALERT_WEBHOOK_RETRIES'],
    [{ ALERT_FAILED_LOGINS_PER_ACCOUNT: '-1' }, 'ALERT_FAILED_LOGINS_PER_ACCOUNT'],
    [{ ALERT_FAILED_LOGINS_PER_IP: '1e3' }, 'ALERT_FAILED_LOGINS_PER_IP'],
    [{ ALERT_CAPTCHA_FAILURES_PER_IP: 'many' }, 'ALERT_CAPTCHA_FAILURES_PER_IP'],
    [{ ALERT_WINDOW: '0' }, 'ALERT_WINDOW'],
    [{ ALERT_DEDUP_WINDOW: '0' }, 'ALERT_DEDUP_WINDOW'],
    [{ ALERT_CHECK_INTERVAL_MS: '1' }, 'ALERT_CHECK_INTERVAL_MS'],
    [{ AUDIT_RETENTION_DAYS: '0x10' }, 'AUDIT_RETENTION_DAYS'],
    [{ AUDIT_RETENTION_DAYS: '100000' }, 'AUDIT_RETENTION_DAYS'],
    [{ METRICS_PORT: '70000' }, 'METRICS_PORT'],
    [{ METRICS_PORT: '3000', PORT: '3000' }, 'METRICS_PORT'],
  ];
  for (const [env, variable] of cases) {
    assert.throws(
      () => loadConfig({ ...base, ...env }),
      (error: unknown) => error instanceof ConfigError && error.variable === variable,
      `${JSON.stringify(env)} is refused as ${variable}`,
    );
  }
});

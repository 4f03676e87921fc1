// The audit log's background work: app.auditSealer seals committed events into the
// audit tree and signs checkpoints (every AUDIT_SEAL_INTERVAL_MS, pushing the newest to
// AUDIT_CHECKPOINT_URL), app.auditExporter sends the sealed events to AUDIT_EXPORT_URL,
// and app.alerts evaluates the alert rules over sealed events, with the worker that
// delivers what they raise to the webhook (signed with ALERT_WEBHOOK_SECRET when set).
// The audit key is opened here from the sealing box (an option, never decorated) and
// handed to the sealer, the exporter and retention (app.auditKey is for the sealer and
// retention only). All of them stop on close.
import fp from 'fastify-plugin';
import type { SecretBox } from '../../crypto/secret-box.js';
import { AlertEngine } from '../../audit/alert-engine.js';
import { loadAuditKey, type AuditKey } from '../../audit/audit-key.js';
import { AuditSealer } from '../../audit/sealer.js';
import { AuditExporter, MAX_EXPORT_BATCH } from '../../audit/export.js';

declare module 'fastify' {
  interface FastifyInstance {
    alerts: AlertEngine;
    auditSealer: AuditSealer;
    auditExporter: AuditExporter;
    auditKey: AuditKey;
  }
}

/** Events per sealing transaction. */
const SEAL_BATCH = 2000;
const CHECKPOINT_PUSH_TIMEOUT_MS = 5000;
const EXPORT_TIMEOUT_MS = 10_000;

export default fp<{ box: SecretBox }>(
  async (app, { box }) => {
    const { alerts: settings, audit, issuer } = app.config;
    const auditKey = await loadAuditKey(app.db, box, issuer);
    const sealer = new AuditSealer(
      app.db,
      auditKey,
      {
        intervalMs: audit.sealIntervalMs,
        batchSize: SEAL_BATCH,
        checkpointUrl: audit.checkpointUrl,
        pushTimeoutMs: CHECKPOINT_PUSH_TIMEOUT_MS,
      },
      app.log,
    );
    const exporter = new AuditExporter(
      app.db,
      auditKey,
      {
        url: audit.exportUrl,
        intervalMs: audit.sealIntervalMs,
        timeoutMs: EXPORT_TIMEOUT_MS,
        batchSize: MAX_EXPORT_BATCH,
      },
      app.log,
    );
    const alerts = new AlertEngine(
      app.db,
      {
        failedLoginsPerAccount: settings.failedLoginsPerAccount,
        failedLoginsPerIp: settings.failedLoginsPerIp,
        captchaFailuresPerIp: settings.captchaFailuresPerIp,
        mfaFailuresPerAccount: settings.mfaFailuresPerAccount,
        refusalsPerIp: settings.refusalsPerIp,
        windowSeconds: settings.windowSeconds,
        dedupWindowSeconds: settings.dedupWindowSeconds,
        checkIntervalMs: settings.checkIntervalMs,
        webhook: {
          url: settings.webhookUrl,
          secret: settings.webhookSecret,
          timeoutMs: settings.webhookTimeoutMs,
          retries: settings.webhookRetries,
        },
        issuer,
      },
      app.log,
      // The rules read sealed events only: seal what is committed first.
      { beforeCheck: () => sealer.seal() },
    );
    if (app.config.env === 'production' && settings.webhookUrl && !settings.webhookSecret)
      app.log.warn(
        { event: 'alert_webhook_unsigned' },
        'ALERT_WEBHOOK_URL is set without ALERT_WEBHOOK_SECRET: alert deliveries are unsigned, receivers cannot authenticate them',
      );
    sealer.start();
    exporter.start();
    alerts.start();
    app.decorate('auditKey', auditKey);
    app.decorate('auditSealer', sealer);
    app.decorate('auditExporter', exporter);
    app.decorate('alerts', alerts);
    app.addHook('onClose', async () => {
      await alerts.close();
      await exporter.close();
      await sealer.close();
    });
  },
  { name: 'audit', dependencies: ['database'] },
);

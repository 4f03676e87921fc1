// app.alerts: the alert rules over the audit log, evaluated in the background, with the
// webhook that delivers what they raise; stopped (deliveries bounded) on close.
import fp from 'fastify-plugin';
import { AlertEngine } from '../../audit/alert-engine.js';

declare module 'fastify' {
  interface FastifyInstance {
    alerts: AlertEngine;
  }
}

export default fp(
  async (app) => {
    const { alerts: settings, issuer } = app.config;
    const alerts = new AlertEngine(
      app.db,
      {
        failedLoginsPerAccount: settings.failedLoginsPerAccount,
        failedLoginsPerIp: settings.failedLoginsPerIp,
        captchaFailuresPerIp: settings.captchaFailuresPerIp,
        windowSeconds: settings.windowSeconds,
        dedupWindowSeconds: settings.dedupWindowSeconds,
        checkIntervalMs: settings.checkIntervalMs,
        webhook: {
          url: settings.webhookUrl,
          timeoutMs: settings.webhookTimeoutMs,
          retries: settings.webhookRetries,
          maxInFlight: 100,
        },
        issuer,
      },
      app.log,
    );
    alerts.start();
    app.decorate('alerts', alerts);
    app.addHook('onClose', () => alerts.close());
  },
  { name: 'audit', dependencies: ['database'] },
);

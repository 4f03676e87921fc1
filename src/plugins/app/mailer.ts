// Mail: app.mail queues a mail in the caller's transaction (sealed with the box, an
// option, never decorated), app.mailDelivery is the worker that sends what is queued.
// The worker starts when the app is ready and stops on close, after the sends in flight.
import fp from 'fastify-plugin';
import type { SecretBox } from '../../crypto/secret-box.js';
import { createMailDelivery, type MailDelivery } from '../../mail/delivery.js';
import { MailOutbox } from '../../mail/outbox.js';

declare module 'fastify' {
  interface FastifyInstance {
    mail: MailOutbox;
    mailDelivery: Pick<MailDelivery, 'runOnce'>;
  }
}

export default fp<{ box: SecretBox }>(
  async (app, { box }) => {
    const delivery = createMailDelivery(app.db, box, app.config, app.log);
    const outbox = new MailOutbox(box, { issuer: app.config.issuer, onQueued: () => delivery.nudge() });
    app.decorate('mail', outbox);
    app.decorate('mailDelivery', { runOnce: () => delivery.runOnce() });
    app.addHook('onReady', async () => delivery.start());
    app.addHook('onClose', async () => delivery.close());
  },
  { name: 'mailer', dependencies: ['database'] },
);

// app.mfa: a user's second factors. The sealing box comes in as an option and stays inside
// the service.
import fp from 'fastify-plugin';
import type { SecretBox } from '../../crypto/secret-box.js';
import { SecondFactors } from '../../mfa/second-factors.js';

declare module 'fastify' {
  interface FastifyInstance {
    mfa: SecondFactors;
  }
}

export default fp<{ box: SecretBox }>(
  async (app, { box }) => {
    app.decorate('mfa', new SecondFactors({ db: app.db, box, mail: app.mail, config: app.config }));
  },
  { name: 'mfa', dependencies: ['database', 'mailer'] },
);

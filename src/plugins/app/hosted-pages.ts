// The hosted pages' renderers (templates compiled once at start) and the CSRF tokens of
// their forms. The form key stays inside FormTokens; only its methods are decorated.
import fp from 'fastify-plugin';
import { createPages, type Pages } from '../../pages/pages.js';
import { FormTokens } from '../../authorization/browser.js';

declare module 'fastify' {
  interface FastifyInstance {
    pages: Pages;
    formTokens: Pick<FormTokens, 'issue' | 'check'>;
  }
}

export default fp<{ formSecret: Buffer }>(
  async (app, options) => {
    const { config } = app;
    app.decorate(
      'pages',
      createPages({
        brandName: config.pages.brandName,
        logoUrl: config.pages.logoUrl,
        passwordReset: config.accounts.selfServiceReset,
        captcha: {
          provider: config.captcha.provider,
          sitekey: config.captcha.sitekey,
          scriptUrl: config.captcha.scriptUrl,
        },
      }),
    );
    const tokens = new FormTokens(options.formSecret);
    app.decorate('formTokens', {
      issue: tokens.issue.bind(tokens),
      check: tokens.check.bind(tokens),
    });
  },
  { name: 'hosted-pages', decorators: { fastify: ['config'] } },
);

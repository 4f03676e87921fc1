// The hosted account pages that mail links lead to: confirming an address, asking for a
// password reset link and choosing the new password. HTTP only: the decisions are the use
// cases' (src/users/email-verification.ts, src/users/password-reset.ts). Opening a link
// never uses its token (mail scanners and link previews fetch links): the page's form does.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { TesseraError } from '../../errors/errors.js';
import { acceptFormBodiesOnly } from '../../lib/form-body.js';
import { ONE_MINUTE } from '../../plugins/external/rate-limit.js';
import { Email, Password, Text } from '../../schemas.js';
import { PAGE_REFUSALS, htmlResponse, pageErrorHandler, sendPage } from '../../pages/send.js';
import type { Page, PasswordResetRequestPage } from '../../pages/pages.js';
import { browserBinding, isSameOriginPost, sentBinding } from '../../authorization/browser.js';
import { ACCOUNT_PAGES } from '../../users/account-links.js';
import { verifyEmail } from '../../users/email-verification.js';
import { confirmPasswordReset, requestPasswordReset, resetLinkPurpose } from '../../users/password-reset.js';

/** A mail link's token: 256 bits, base64url, as the JSON endpoints take it. */
const LINK_TOKEN = /^[A-Za-z0-9_-]{43}$/;
const LinkToken = Type.String({ pattern: LINK_TOKEN.source, description: 'the `token` of the mailed link' });

// The query is checked in the handler, not by the schema, so that anything but a well-formed
// token gets the invalid-link page (never echoed) rather than the generic error page.
const LinkQuery = Type.Object(
  // Text: no NUL or lone surrogate gets past the schema; any other wrong token is the invalid-link page.
  { token: Type.Optional(Text({ maxLength: 4096, description: 'the `token` of the mailed link' })) },
  { additionalProperties: Text({ maxLength: 2048 }) },
);

const CAPTCHA_FIELDS = ['h-captcha-response', 'cf-turnstile-response', 'g-recaptcha-response'] as const;
const FIELD_OF = {
  hcaptcha: 'h-captcha-response',
  turnstile: 'cf-turnstile-response',
  recaptcha: 'g-recaptcha-response',
} as const;

const CsrfToken = Text({ maxLength: 128 });

const VerifyForm = Type.Object({ token: LinkToken, csrf_token: CsrfToken }, { additionalProperties: false });

const ResetRequestForm = Type.Object(
  {
    csrf_token: CsrfToken,
    email: Email,
    ...Object.fromEntries(CAPTCHA_FIELDS.map((f) => [f, Type.Optional(Text({ maxLength: 8192 }))])),
  },
  { additionalProperties: false },
);

const ResetConfirmForm = Type.Object(
  { token: LinkToken, csrf_token: CsrfToken, password: Password },
  { additionalProperties: false },
);

/** The CSRF token's purpose per form; its subject is the link's token (or the one request form). */
const PURPOSE = {
  verify: 'account_verify_email',
  resetRequest: 'account_password_reset',
  resetConfirm: 'account_password_reset_confirm',
} as const;
const REQUEST_FORM_SUBJECT = 'request';

/**
 * A page whose URL carries a token: nothing, not even our own stylesheet request, gets it
 * as a Referer. Route-level onSend runs after the app's, so this is the header that goes out.
 */
const noReferrer = async (_request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
  reply.header('referrer-policy', 'no-referrer');
  return payload;
};

const common = { tags: ['account'], security: [] };

/** src/app.ts registers these routes under /account; ACCOUNT_PAGES holds the full paths the mails use. */
const PREFIX = '/account';
const under = (page: string): string => page.slice(PREFIX.length);

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, pages, formTokens } = app;
  acceptFormBodiesOnly(app);
  app.setErrorHandler(pageErrorHandler(pages));
  const resetMinutes = Math.round(config.accounts.passwordResetTtl / 60);

  /** The page's form came from this browser (CSRF token under its binding cookie) and this site. */
  const formAccepted = (request: FastifyRequest, purpose: string, subject: string, csrf: string) =>
    isSameOriginPost(request, config.issuer) && formTokens.check(sentBinding(request), purpose, subject, csrf);

  const refuseForgery = (reply: FastifyReply) =>
    sendPage(
      reply,
      403,
      pages.error({
        message: 'This form could not be accepted. Please open the page again and retry.',
        error: 'forbidden',
      }),
    );

  const invalidLink = (reply: FastifyReply, kind: 'verify' | 'reset') =>
    sendPage(
      reply,
      400,
      pages.accountDone({
        title: 'This link does not work',
        message: 'The link is invalid, has expired or was already used.',
        error: true,
        ...(kind === 'reset'
          ? { link: { href: ACCOUNT_PAGES.passwordReset, text: 'Ask for a new link' } }
          : {
              hint: 'If you have confirmed your address already, you can sign in. Otherwise register again for a new link.',
            }),
      }),
    );

  const resetUnavailable = (reply: FastifyReply) =>
    sendPage(
      reply,
      403,
      pages.accountDone({
        title: 'Password reset is not available',
        message: 'Password reset by mail is not available on this service. Please ask its administrator.',
        error: true,
      }),
    );

  const isCode = (error: unknown, ...codes: string[]): error is TesseraError =>
    error instanceof TesseraError && codes.includes(error.code);

  // --- Confirming an address -------------------------------------------------------------

  app.get(
    under(ACCOUNT_PAGES.verifyEmail),
    {
      onSend: noReferrer,
      config: { policy: { public: true }, rateLimit: { max: config.rateLimits.registration, timeWindow: ONE_MINUTE } },
      schema: {
        ...common,
        summary: 'The page a verification mail links to: one button that confirms the address',
        description: 'Opening the link changes nothing; the form it shows does (POST). A malformed token gets 400.',
        operationId: 'verifyEmailPage',
        querystring: LinkQuery,
        response: {
          ...PAGE_REFUSALS,
          200: htmlResponse('The confirmation form, the token in a hidden field'),
          400: htmlResponse('The invalid-link page, or the error page for a malformed query'),
        },
      },
    },
    async (request, reply) => {
      const { token } = request.query;
      if (token === undefined || !LINK_TOKEN.test(token)) return invalidLink(reply, 'verify');
      const binding = browserBinding(request, reply);
      return sendPage(
        reply,
        200,
        pages.verifyEmail({
          action: ACCOUNT_PAGES.verifyEmail,
          hidden: { token, csrf_token: formTokens.issue(binding, PURPOSE.verify, token) },
        }),
      );
    },
  );

  app.post(
    under(ACCOUNT_PAGES.verifyEmail),
    {
      bodyLimit: 4096,
      config: { policy: { public: true }, rateLimit: { max: config.rateLimits.registration, timeWindow: ONE_MINUTE } },
      schema: {
        ...common,
        summary: 'The verification page’s form: confirms the address',
        operationId: 'submitVerifyEmailForm',
        consumes: ['application/x-www-form-urlencoded'],
        body: VerifyForm,
        response: {
          ...PAGE_REFUSALS,
          200: htmlResponse('The address is confirmed'),
          400: htmlResponse('The invalid-link page (unknown, used or expired), or a malformed form'),
          403: htmlResponse('A form without its CSRF token or from another site'),
          409: htmlResponse('Another account took the address meanwhile (an email change)'),
        },
      },
    },
    async (request, reply) => {
      const { token, csrf_token } = request.body;
      if (!formAccepted(request, PURPOSE.verify, token, csrf_token)) return refuseForgery(reply);
      try {
        await verifyEmail(app, { token, ip: request.ip });
      } catch (error) {
        if (isCode(error, 'invalid_link')) {
          request.log.info({ code: error.code }, 'verification link refused');
          return invalidLink(reply, 'verify');
        }
        if (isCode(error, 'email_taken'))
          return sendPage(
            reply,
            409,
            pages.accountDone({
              title: 'This address is taken',
              message: 'Another account uses this email address now, so your account keeps its current one.',
              error: true,
            }),
          );
        throw error;
      }
      return sendPage(
        reply,
        200,
        pages.accountDone({ title: 'Address confirmed', message: 'Your address is confirmed, you can sign in now.' }),
      );
    },
  );

  // --- Asking for a reset link --------------------------------------------------------------

  const requestForm = (binding: string, data: Omit<PasswordResetRequestPage, 'action' | 'hidden'>): Page =>
    pages.passwordResetRequest({
      action: ACCOUNT_PAGES.passwordReset,
      hidden: { csrf_token: formTokens.issue(binding, PURPOSE.resetRequest, REQUEST_FORM_SUBJECT) },
      ...data,
    });

  app.get(
    under(ACCOUNT_PAGES.passwordReset),
    {
      config: { policy: { public: true } },
      schema: {
        ...common,
        summary: 'The form that asks for a password reset link by mail',
        operationId: 'passwordResetPage',
        response: {
          ...PAGE_REFUSALS,
          200: htmlResponse('The form: an email field (and the captcha widget once due from this IP)'),
          403: htmlResponse('Password reset by mail is not available (production without SMTP_URL)'),
        },
      },
    },
    async (request, reply) => {
      if (!config.accounts.selfServiceReset) return resetUnavailable(reply);
      const binding = browserBinding(request, reply);
      const captcha = await app.credentialGuard.captchaDue('', request.ip).catch(() => false);
      return sendPage(reply, 200, requestForm(binding, { captcha }));
    },
  );

  app.post(
    under(ACCOUNT_PAGES.passwordReset),
    {
      bodyLimit: 16_384,
      config: { policy: { public: true }, rateLimit: { max: config.rateLimits.login, timeWindow: ONE_MINUTE } },
      schema: {
        ...common,
        summary: 'The reset request form: mails a link if the address has an account',
        description:
          'Answers the same page whether or not the address has an account; the mail is sent after the answer. ' +
          'Requests count like failed logins, so past CAPTCHA_AFTER_FAILURES the form comes back with the captcha.',
        operationId: 'submitPasswordResetForm',
        consumes: ['application/x-www-form-urlencoded'],
        body: ResetRequestForm,
        response: {
          ...PAGE_REFUSALS,
          200: htmlResponse('“If an account exists for that address, we sent a link”'),
          401: htmlResponse('The form again, with the captcha widget: a captcha is due or its answer failed'),
          403: htmlResponse('A form without its CSRF token or from another site, or reset is not available'),
        },
      },
    },
    async (request, reply) => {
      const body = request.body as Type.Static<typeof ResetRequestForm> & Record<string, string | undefined>;
      const binding = sentBinding(request);
      if (!binding || !formAccepted(request, PURPOSE.resetRequest, REQUEST_FORM_SUBJECT, body.csrf_token))
        return refuseForgery(reply);
      const provider = config.captcha.provider;
      const captchaToken = provider === 'none' ? undefined : body[FIELD_OF[provider]] || undefined;
      try {
        await requestPasswordReset(app, { email: body.email, ip: request.ip, captchaToken }, (task) =>
          app.background('password reset request', task),
        );
      } catch (error) {
        if (isCode(error, 'captcha_required'))
          return sendPage(
            reply,
            401,
            requestForm(binding, {
              email: body.email,
              message: captchaToken ? 'captcha_failed' : 'captcha_required',
              captcha: true,
            }),
          );
        if (isCode(error, 'password_reset_unavailable')) return resetUnavailable(reply);
        throw error;
      }
      return sendPage(
        reply,
        200,
        pages.accountDone({
          title: 'Check your mail',
          message: `If an account exists for that address, we sent a link. It works for ${resetMinutes} minutes.`,
          hint: 'Nothing arrived? Look in your spam folder, or ask again in a few minutes.',
        }),
      );
    },
  );

  // --- Choosing the new password ------------------------------------------------------------

  const confirmForm = (
    binding: string,
    token: string,
    purpose: 'password_reset' | 'invitation',
    message?: string,
  ): Page =>
    pages.passwordResetConfirm({
      action: ACCOUNT_PAGES.passwordResetConfirm,
      hidden: { token, csrf_token: formTokens.issue(binding, PURPOSE.resetConfirm, token) },
      invitation: purpose === 'invitation',
      minLength: config.password.minLength,
      message,
    });

  app.get(
    under(ACCOUNT_PAGES.passwordResetConfirm),
    {
      onSend: noReferrer,
      config: { policy: { public: true }, rateLimit: { max: config.rateLimits.login, timeWindow: ONE_MINUTE } },
      schema: {
        ...common,
        summary: 'The page a reset or invitation mail links to: the new password form',
        description: 'Opening the link only checks that it still works; the form it shows uses it (POST).',
        operationId: 'passwordResetConfirmPage',
        querystring: LinkQuery,
        response: {
          ...PAGE_REFUSALS,
          200: htmlResponse('“Choose a new password” (or “Set your password” for an invitation)'),
          400: htmlResponse('The invalid-link page (malformed, unknown, used or expired), with a way to ask again'),
        },
      },
    },
    async (request, reply) => {
      const { token } = request.query;
      if (token === undefined || !LINK_TOKEN.test(token)) return invalidLink(reply, 'reset');
      const purpose = await resetLinkPurpose(app.db, token);
      if (!purpose) return invalidLink(reply, 'reset');
      return sendPage(reply, 200, confirmForm(browserBinding(request, reply), token, purpose));
    },
  );

  app.post(
    under(ACCOUNT_PAGES.passwordResetConfirm),
    {
      bodyLimit: 8192,
      config: { policy: { public: true }, rateLimit: { max: config.rateLimits.login, timeWindow: ONE_MINUTE } },
      schema: {
        ...common,
        summary: 'The new password form: sets the password and ends every session',
        operationId: 'submitPasswordResetConfirmForm',
        consumes: ['application/x-www-form-urlencoded'],
        body: ResetConfirmForm,
        response: {
          ...PAGE_REFUSALS,
          200: htmlResponse('The password is set'),
          400: htmlResponse(
            'The form again with the policy’s message (the link still works), or the invalid-link page',
          ),
          403: htmlResponse('A form without its CSRF token or from another site'),
          503: htmlResponse('The error page: too many password hashes at once, retry later'),
        },
      },
    },
    async (request, reply) => {
      const { token, csrf_token, password } = request.body;
      const binding = sentBinding(request);
      if (!binding || !formAccepted(request, PURPOSE.resetConfirm, token, csrf_token)) return refuseForgery(reply);
      try {
        await confirmPasswordReset(app, { token, password, ip: request.ip });
      } catch (error) {
        if (isCode(error, 'weak_password')) {
          const purpose = await resetLinkPurpose(app.db, token);
          if (!purpose) return invalidLink(reply, 'reset');
          return sendPage(reply, 400, confirmForm(binding, token, purpose, error.description));
        }
        if (isCode(error, 'invalid_link')) {
          request.log.info({ code: error.code }, 'reset link refused');
          return invalidLink(reply, 'reset');
        }
        throw error;
      }
      return sendPage(
        reply,
        200,
        pages.accountDone({
          title: 'Password saved',
          message: 'Your new password is set. You can sign in with it now.',
          hint: 'Every session of your account has ended, here and in the applications you use.',
        }),
      );
    },
  );
};

export default routes;

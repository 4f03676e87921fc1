// GET and POST /oauth/authorize (RFC 6749 4.1, RFC 7636, OIDC Core 3.1.2), and the hosted
// login and consent forms that continue a pending request. HTTP only: the decisions are
// in src/authorization/authorize.ts, the password check is the credential guard's.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { TesseraError } from '../../errors/errors.js';
import { ONE_MINUTE } from '../../plugins/external/rate-limit.js';
import { Password, Text } from '../../schemas.js';
import { PAGE_REFUSALS, htmlResponse, pageErrorHandler, sendPage } from '../../pages/send.js';
import { describeScopes, type LoginMessage } from '../../pages/pages.js';
import {
  decideConsent,
  pendingRequest,
  resumeAfterLogin,
  startAuthorization,
  type AuthorizeStep,
  type BrowserState,
} from '../../authorization/authorize.js';
import { browserBinding, currentBrowserSession, isSameOriginPost, sentBinding } from '../../authorization/browser.js';
import { signInAtPage } from '../../authorization/page-login.js';
import { markLoggedIn } from '../../db/repositories/authorization-requests.js';

const param = (description: string, maxLength = 2048) => Type.Optional(Text({ maxLength, description }));

// OIDC Core 3.1.2.1 and RFC 6749 3.1: unknown parameters are ignored, so more are allowed.
const AuthorizeParams = Type.Object(
  {
    response_type: param('code', 64),
    client_id: param('the client', 128),
    redirect_uri: param('one of the client’s registered redirect URIs, exactly'),
    scope: param('space-separated scopes, e.g. "openid email"', 1024),
    state: param('returned unchanged to the client'),
    nonce: param('copied into the ID token', 512),
    code_challenge: param('RFC 7636: BASE64URL(SHA-256(code_verifier))', 128),
    code_challenge_method: param('S256 (plain is refused)', 16),
    resource: param('RFC 8707: the audience of the access token'),
    prompt: param('none, login, consent or select_account', 64),
    max_age: param('seconds since the last password before a new one is asked for', 16),
    login_hint: param('the email to fill in on the login page', 320),
    id_token_hint: param('an ID token Tessera issued to this client', 8192),
  },
  { additionalProperties: Text({ maxLength: 8192 }) },
);
type Params = Type.Static<typeof AuthorizeParams>;

const CAPTCHA_FIELDS = ['h-captcha-response', 'cf-turnstile-response', 'g-recaptcha-response'] as const;
const FIELD_OF = {
  hcaptcha: 'h-captcha-response',
  turnstile: 'cf-turnstile-response',
  recaptcha: 'g-recaptcha-response',
};

const LoginForm = Type.Object(
  {
    interaction: Text({ maxLength: 64 }),
    csrf_token: Text({ maxLength: 128 }),
    email: Text({ maxLength: 320 }),
    password: Password,
    ...Object.fromEntries(CAPTCHA_FIELDS.map((f) => [f, Type.Optional(Text({ maxLength: 8192 }))])),
  },
  { additionalProperties: false },
);

const ConsentForm = Type.Object(
  {
    interaction: Text({ maxLength: 64 }),
    csrf_token: Text({ maxLength: 128 }),
    decision: Type.Union([Type.Literal('allow'), Type.Literal('deny')]),
  },
  { additionalProperties: false },
);

const PAGE_RESPONSES = {
  ...PAGE_REFUSALS,
  200: htmlResponse('A hosted page (login or consent)'),
  302: { description: 'Back to the client: code, state and iss, or error, state and iss' },
  400: htmlResponse('The error page: unknown client or redirect URI, or a malformed request'),
};

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, pages, formTokens } = app;

  app.setErrorHandler(pageErrorHandler(pages));

  const browserOf = async (request: FastifyRequest, binding: string): Promise<BrowserState> => ({
    binding,
    session: await currentBrowserSession(app.db, request),
  });

  async function answer(
    request: FastifyRequest,
    reply: FastifyReply,
    step: AuthorizeStep,
    binding: string,
    afterPost: boolean,
    login?: { email?: string; message?: LoginMessage; captcha?: boolean; status?: number },
  ): Promise<FastifyReply> {
    switch (step.kind) {
      case 'error_page':
        return sendPage(reply, step.status, pages.error({ message: step.description, error: step.error }));
      case 'redirect':
        // 303 after a form post, so the browser follows with a GET (RFC 9110 15.4.4).
        return reply.redirect(step.location, afterPost ? 303 : 302);
      case 'login': {
        const params = step.request.params;
        const email = login?.email ?? params.loginHint;
        const captcha =
          login?.captcha ?? (await app.credentialGuard.captchaDue(email ?? '', request.ip).catch(() => false));
        return sendPage(
          reply,
          login?.status ?? 200,
          pages.login({
            clientName: step.client.name,
            action: '/oauth/authorize/login',
            hidden: { interaction: step.request.id, csrf_token: formTokens.issue(binding, 'login', step.request.id) },
            email,
            message: login?.message,
            captcha,
            formActions: [params.redirectUri],
          }),
        );
      }
      case 'consent':
        return sendPage(
          reply,
          200,
          pages.consent({
            clientName: step.client.name,
            action: '/oauth/authorize/consent',
            hidden: {
              interaction: step.request.id,
              csrf_token: formTokens.issue(binding, 'consent', step.request.id),
            },
            scopes: describeScopes(step.request.params.scope.split(' ')),
            formActions: [step.request.params.redirectUri],
          }),
        );
    }
  }

  const refuseForgery = (reply: FastifyReply) =>
    sendPage(
      reply,
      403,
      pages.error({
        message: 'This form could not be accepted. Go back to the application and start again.',
        error: 'forbidden',
      }),
    );

  /**
   * A hosted form post: its pending request (of this browser), its CSRF token and its
   * origin checked; otherwise the answer that refuses it.
   */
  async function acceptForm(
    request: FastifyRequest,
    reply: FastifyReply,
    purpose: 'login' | 'consent',
    body: { interaction: string; csrf_token: string },
  ): Promise<
    { binding: string; pending: NonNullable<Awaited<ReturnType<typeof pendingRequest>>> } | { refused: FastifyReply }
  > {
    const binding = sentBinding(request);
    const pending = await pendingRequest(app.db, body.interaction, binding);
    if (!pending || !binding) {
      const expired = await resumeAfterLogin(app, undefined, { binding: '', session: undefined });
      return { refused: await answer(request, reply, expired, '', true) };
    }
    if (
      !isSameOriginPost(request, config.issuer) ||
      !formTokens.check(binding, purpose, pending.request.id, body.csrf_token)
    )
      return { refused: await refuseForgery(reply) };
    return { binding, pending };
  }

  async function authorize(request: FastifyRequest, reply: FastifyReply, raw: Params): Promise<FastifyReply> {
    const binding = browserBinding(request, reply);
    const step = await startAuthorization(app, raw, await browserOf(request, binding));
    return answer(request, reply, step, binding, false);
  }

  const common = {
    summary: 'Authorization endpoint (RFC 6749 4.1, PKCE S256, OpenID Connect)',
    tags: ['oauth'],
    security: [],
    response: PAGE_RESPONSES,
  };
  app.get(
    '/authorize',
    {
      config: { policy: { public: true } },
      schema: { ...common, operationId: 'authorize', querystring: AuthorizeParams },
    },
    async (request, reply) => authorize(request, reply, request.query),
  );
  app.post(
    '/authorize',
    {
      config: { policy: { public: true } },
      schema: {
        ...common,
        operationId: 'authorizeByPost',
        consumes: ['application/x-www-form-urlencoded'],
        body: AuthorizeParams,
      },
    },
    async (request, reply) => authorize(request, reply, request.body),
  );

  app.post(
    '/authorize/login',
    {
      bodyLimit: 16_384,
      config: { policy: { public: true }, rateLimit: { max: config.rateLimits.login, timeWindow: ONE_MINUTE } },
      schema: {
        summary: 'The hosted login form (email and password, captcha once due)',
        operationId: 'submitLoginForm',
        tags: ['oauth'],
        security: [],
        consumes: ['application/x-www-form-urlencoded'],
        body: LoginForm,
        response: {
          ...PAGE_REFUSALS,
          200: htmlResponse('The consent page'),
          303: { description: 'Back to the client with the code' },
          400: htmlResponse('The request expired or is unknown'),
          401: htmlResponse('The login page again: wrong credentials, or a captcha is due'),
          403: htmlResponse('A form without its CSRF token or from another site'),
          503: htmlResponse('The login page again: too many password checks at once, retry later'),
        },
      },
    },
    async (request, reply) => {
      const body = request.body as Type.Static<typeof LoginForm> & Record<string, string | undefined>;
      const form = await acceptForm(request, reply, 'login', body);
      if ('refused' in form) return form.refused;
      const { binding, pending } = form;

      const provider = config.captcha.provider;
      const captchaToken = provider === 'none' ? undefined : body[FIELD_OF[provider]] || undefined;
      const loginStep = { kind: 'login' as const, request: pending.request, client: pending.client };
      let browser = await browserOf(request, binding);
      try {
        const session = await signInAtPage(
          app,
          reply,
          {
            email: body.email,
            password: body.password,
            captchaToken,
            ip: request.ip,
            userAgent: request.headers['user-agent']?.slice(0, 512) ?? null,
            clientId: pending.client.id,
            current: browser.session,
          },
          request.log,
        );
        await markLoggedIn(app.db, pending.request.id, session.id);
        pending.request.login_at = new Date();
        pending.request.browser_session_id = session.id;
        browser = { binding, session };
      } catch (error) {
        if (!(error instanceof TesseraError)) throw error;
        if (error.code === 'invalid_credentials') {
          const captcha = await app.credentialGuard.captchaDue(body.email, request.ip).catch(() => false);
          return answer(request, reply, loginStep, binding, true, {
            email: body.email,
            message: 'invalid_credentials',
            captcha,
            status: 401,
          });
        }
        if (error.code === 'email_not_verified') {
          return answer(request, reply, loginStep, binding, true, {
            email: body.email,
            message: 'email_not_verified',
            status: 403,
          });
        }
        if (error.code === 'captcha_required') {
          return answer(request, reply, loginStep, binding, true, {
            email: body.email,
            message: captchaToken ? 'captcha_failed' : 'captcha_required',
            captcha: true,
            status: 401,
          });
        }
        if (error.code === 'temporarily_unavailable') {
          for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
          return answer(request, reply, loginStep, binding, true, {
            email: body.email,
            message: 'unavailable',
            status: 503,
          });
        }
        throw error;
      }
      return answer(request, reply, await resumeAfterLogin(app, pending, browser), binding, true);
    },
  );

  app.post(
    '/authorize/consent',
    {
      config: { policy: { public: true } },
      schema: {
        summary: 'The consent form: allow or deny a third-party client',
        operationId: 'submitConsentForm',
        tags: ['oauth'],
        security: [],
        consumes: ['application/x-www-form-urlencoded'],
        body: ConsentForm,
        response: {
          ...PAGE_REFUSALS,
          200: htmlResponse('The login page, when the browser session ended meanwhile'),
          303: { description: 'Back to the client: a code, or error=access_denied' },
          400: htmlResponse('The request expired or is unknown'),
          403: htmlResponse('A form without its CSRF token or from another site'),
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const form = await acceptForm(request, reply, 'consent', body);
      if ('refused' in form) return form.refused;
      const { binding, pending } = form;
      const browser = await browserOf(request, binding);
      const step = await decideConsent(app, pending, browser, body.decision, { ip: request.ip });
      return answer(request, reply, step, binding, true);
    },
  );
};

export default routes;

// GET and POST /oauth/authorize (RFC 6749 4.1, RFC 7636, OIDC Core 3.1.2), and the hosted
// forms that continue a pending request: login, second step, passkey, enrolment, consent.
// HTTP only: the decisions are in src/authorization/, the checks are the credential guard's.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { TesseraError } from '../../errors/errors.js';
import { ONE_MINUTE } from '../../plugins/external/rate-limit.js';
import { Password, Text } from '../../schemas.js';
import { PAGE_REFUSALS, htmlResponse, pageErrorHandler, sendPage } from '../../pages/send.js';
import { describeScopes, type LoginMessage, type MfaMessage } from '../../pages/pages.js';
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
import {
  confirmEnrolmentAtPage,
  parseAssertion,
  passkeyAtPage,
  pendingMfaLogin,
  secondStepAtPage,
} from '../../authorization/page-mfa.js';
import { markLoggedIn, type AuthorizationRequestRow } from '../../db/repositories/authorization-requests.js';
import type { BrowserSessionRow } from '../../db/repositories/browser-sessions.js';
import type { ClientRow } from '../../db/repositories/clients.js';
import { totpQrSvg, totpUri } from '../../domain/mfa/totp.js';

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

const captchaFields = () =>
  Object.fromEntries(CAPTCHA_FIELDS.map((f) => [f, Type.Optional(Text({ maxLength: 8192 }))]));
const FormBase = { interaction: Text({ maxLength: 64 }), csrf_token: Text({ maxLength: 128 }) };
/** PublicKeyCredential.toJSON() as JSON text; its members are checked against AssertionResponse. */
const AssertionField = Text({ maxLength: 20_000 });

const MfaForm = Type.Object(
  {
    ...FormBase,
    mfa_token: Text({ maxLength: 64 }),
    method: Type.Union([Type.Literal('totp'), Type.Literal('recovery_code'), Type.Literal('webauthn')]),
    code: Type.Optional(Text({ maxLength: 64 })),
    assertion: Type.Optional(AssertionField),
    ...captchaFields(),
  },
  { additionalProperties: false },
);

const PasskeyForm = Type.Object(
  { ...FormBase, assertion: AssertionField, ...captchaFields() },
  { additionalProperties: false },
);

const EnrolForm = Type.Object(
  {
    ...FormBase,
    mfa_token: Text({ maxLength: 64 }),
    // Shown again after a wrong code only; the check uses the sealed secret on our side.
    secret: Type.String({ pattern: '^[A-Z2-7]{16,128}$' }),
    code: Text({ maxLength: 16 }),
  },
  { additionalProperties: false },
);

const ContinueForm = Type.Object(FormBase, { additionalProperties: false });

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
        const passkey = await passkeyForm(request, binding, step.request.id);
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
            passkey,
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

  /** The login page's passwordless form: a fresh challenge (stored, single use) for any passkey. */
  async function passkeyForm(request: FastifyRequest, binding: string, requestId: string) {
    try {
      const options = await app.mfa.passwordlessOptions();
      return {
        action: '/oauth/authorize/passkey',
        hidden: { interaction: requestId, csrf_token: formTokens.issue(binding, 'passkey', requestId) },
        options: JSON.stringify(options),
      };
    } catch (error) {
      // The password form still works without it.
      request.log.warn({ err: error }, 'passkey options unavailable');
      return undefined;
    }
  }

  type Pending = { request: AuthorizationRequestRow; client: ClientRow };

  async function mfaPage(
    reply: FastifyReply,
    pending: Pending,
    binding: string,
    m: {
      mfaToken: string;
      methods: ('totp' | 'recovery_code' | 'webauthn')[];
      webauthn: unknown;
      message?: MfaMessage;
      captcha?: boolean;
      status?: number;
    },
  ): Promise<FastifyReply> {
    const id = pending.request.id;
    return sendPage(
      reply,
      m.status ?? 200,
      pages.mfa({
        clientName: pending.client.name,
        action: '/oauth/authorize/mfa',
        hidden: { interaction: id, csrf_token: formTokens.issue(binding, 'mfa', id), mfa_token: m.mfaToken },
        methods: m.methods,
        webauthnOptions: m.webauthn === undefined ? undefined : JSON.stringify(m.webauthn),
        message: m.message,
        captcha: m.captcha ?? false,
        formActions: [pending.request.params.redirectUri],
      }),
    );
  }

  async function enrolPage(
    reply: FastifyReply,
    pending: Pending,
    binding: string,
    e: { mfaToken: string; secret: string; otpauthUri: string; qrSvg: string; wrong?: boolean },
  ): Promise<FastifyReply> {
    const id = pending.request.id;
    return sendPage(
      reply,
      e.wrong ? 401 : 200,
      pages.mfaEnrol({
        clientName: pending.client.name,
        action: '/oauth/authorize/enrol',
        hidden: {
          interaction: id,
          csrf_token: formTokens.issue(binding, 'enrol', id),
          mfa_token: e.mfaToken,
          secret: e.secret,
        },
        secret: e.secret,
        otpauthUri: e.otpauthUri,
        qrSvg: e.qrSvg,
        message: e.wrong ? 'invalid_code' : undefined,
        formActions: [pending.request.params.redirectUri],
      }),
    );
  }

  /** The pending request now has its login: the browser session that made it. */
  async function loggedIn(pending: Pending, binding: string, session: BrowserSessionRow): Promise<BrowserState> {
    await markLoggedIn(app.db, pending.request.id, session.id);
    pending.request.login_at = new Date();
    pending.request.browser_session_id = session.id;
    return { binding, session };
  }

  const captchaTokenOf = (body: Record<string, string | undefined>) => {
    const provider = config.captcha.provider;
    return provider === 'none' ? undefined : body[FIELD_OF[provider]] || undefined;
  };
  const userAgentOf = (request: FastifyRequest) => request.headers['user-agent']?.slice(0, 512) ?? null;
  const loginAgain = (
    request: FastifyRequest,
    reply: FastifyReply,
    pending: Pending,
    binding: string,
    message: LoginMessage,
  ) =>
    answer(request, reply, { kind: 'login', request: pending.request, client: pending.client }, binding, true, {
      message,
      status: 401,
    });

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
    purpose: 'login' | 'consent' | 'mfa' | 'passkey' | 'enrol' | 'continue',
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

      const captchaToken = captchaTokenOf(body);
      const loginStep = { kind: 'login' as const, request: pending.request, client: pending.client };
      let browser = await browserOf(request, binding);
      try {
        const outcome = await signInAtPage(
          app,
          reply,
          {
            email: body.email,
            password: body.password,
            captchaToken,
            ip: request.ip,
            userAgent: userAgentOf(request),
            clientId: pending.client.id,
            current: browser.session,
          },
          request.log,
        );
        if (outcome.kind === 'second_step') return mfaPage(reply, pending, binding, outcome);
        if (outcome.kind === 'enrol')
          return enrolPage(reply, pending, binding, {
            mfaToken: outcome.mfaToken,
            secret: outcome.totp.secret,
            otpauthUri: outcome.totp.otpauth_uri,
            qrSvg: outcome.totp.qr_svg,
          });
        browser = await loggedIn(pending, binding, outcome.session);
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

  const formResponses = (ok: string) => ({
    ...PAGE_REFUSALS,
    200: htmlResponse(ok),
    303: { description: 'Back to the client with the code' },
    400: htmlResponse('The request expired or is unknown'),
    401: htmlResponse('The same page again with a generic message, or the login page when the step expired'),
    403: htmlResponse('A form without its CSRF token or from another site'),
    503: htmlResponse('The same page again: too many checks at once, retry later'),
  });
  const loginRateLimit = { max: config.rateLimits.login, timeWindow: ONE_MINUTE };

  app.post(
    '/authorize/mfa',
    {
      bodyLimit: 32_768,
      config: { policy: { public: true }, rateLimit: loginRateLimit },
      schema: {
        summary: 'The hosted second step: a TOTP code, a recovery code or a passkey assertion, with the mfa_token',
        operationId: 'submitMfaForm',
        tags: ['oauth'],
        security: [],
        consumes: ['application/x-www-form-urlencoded'],
        body: MfaForm,
        response: formResponses('The consent page'),
      },
    },
    async (request, reply) => {
      const body = request.body as Type.Static<typeof MfaForm> & Record<string, string | undefined>;
      const form = await acceptForm(request, reply, 'mfa', body);
      if ('refused' in form) return form.refused;
      const { binding, pending } = form;
      const captchaToken = captchaTokenOf(body);
      const where = { mfaToken: body.mfa_token, ip: request.ip, clientId: pending.client.id };
      let browser = await browserOf(request, binding);
      try {
        const session = await secondStepAtPage(app, reply, {
          ...where,
          method: body.method,
          code: body.code,
          assertion: body.method === 'webauthn' ? parseAssertion(body.assertion) : undefined,
          captchaToken,
          userAgent: userAgentOf(request),
          current: browser.session,
        });
        browser = await loggedIn(pending, binding, session);
      } catch (error) {
        if (!(error instanceof TesseraError)) throw error;
        const again: Partial<Record<string, MfaMessage>> = {
          invalid_code: 'invalid_code',
          captcha_required: captchaToken ? 'captcha_failed' : 'captcha_required',
          temporarily_unavailable: 'unavailable',
        };
        const message = again[error.code];
        const login = message && (await pendingMfaLogin(app, where));
        if (!message || !login) {
          if (error.code !== 'invalid_grant' && error.code !== 'invalid_credentials' && !message) throw error;
          return loginAgain(request, reply, pending, binding, 'mfa_expired');
        }
        if (error.code === 'temporarily_unavailable')
          for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
        const { methods, passkeys } = await app.mfa.methods(login.userId);
        const captcha =
          error.code === 'captcha_required' ||
          (await app.credentialGuard.captchaDue(`mfa:${login.userId}`, request.ip).catch(() => false));
        return mfaPage(reply, pending, binding, {
          mfaToken: body.mfa_token,
          methods,
          webauthn: passkeys.length > 0 ? await app.mfa.assertionOptions(login.userId, passkeys) : undefined,
          message,
          captcha,
          status: message === 'unavailable' ? 503 : 401,
        });
      }
      return answer(request, reply, await resumeAfterLogin(app, pending, browser), binding, true);
    },
  );

  app.post(
    '/authorize/passkey',
    {
      bodyLimit: 32_768,
      config: { policy: { public: true }, rateLimit: loginRateLimit },
      schema: {
        summary: 'The hosted passwordless sign-in: a discoverable passkey’s assertion',
        operationId: 'submitPasskeyForm',
        tags: ['oauth'],
        security: [],
        consumes: ['application/x-www-form-urlencoded'],
        body: PasskeyForm,
        response: formResponses('The consent page'),
      },
    },
    async (request, reply) => {
      const body = request.body as Type.Static<typeof PasskeyForm> & Record<string, string | undefined>;
      const form = await acceptForm(request, reply, 'passkey', body);
      if ('refused' in form) return form.refused;
      const { binding, pending } = form;
      const captchaToken = captchaTokenOf(body);
      let browser = await browserOf(request, binding);
      try {
        const session = await passkeyAtPage(app, reply, {
          assertion: parseAssertion(body.assertion),
          captchaToken,
          ip: request.ip,
          userAgent: userAgentOf(request),
          clientId: pending.client.id,
          current: browser.session,
        });
        browser = await loggedIn(pending, binding, session);
      } catch (error) {
        if (!(error instanceof TesseraError)) throw error;
        if (error.code === 'invalid_credentials') return loginAgain(request, reply, pending, binding, 'passkey_failed');
        // The captcha widget belongs to the password form: a due captcha is solved there.
        if (error.code === 'captcha_required')
          return loginAgain(request, reply, pending, binding, captchaToken ? 'captcha_failed' : 'captcha_required');
        if (error.code === 'temporarily_unavailable') {
          for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
          return answer(request, reply, { kind: 'login', ...pending }, binding, true, {
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
    '/authorize/enrol',
    {
      bodyLimit: 16_384,
      config: { policy: { public: true }, rateLimit: loginRateLimit },
      schema: {
        summary: 'The hosted TOTP enrolment the policy asks for after the password: its first code',
        operationId: 'submitEnrolForm',
        tags: ['oauth'],
        security: [],
        consumes: ['application/x-www-form-urlencoded'],
        body: EnrolForm,
        response: formResponses('The recovery codes, shown once'),
      },
    },
    async (request, reply) => {
      const body = request.body;
      const form = await acceptForm(request, reply, 'enrol', body);
      if ('refused' in form) return form.refused;
      const { binding, pending } = form;
      let result: Awaited<ReturnType<typeof confirmEnrolmentAtPage>>;
      try {
        result = await confirmEnrolmentAtPage(app, reply, {
          mfaToken: body.mfa_token,
          code: body.code,
          ip: request.ip,
          userAgent: userAgentOf(request),
          clientId: pending.client.id,
          current: (await browserOf(request, binding)).session,
        });
      } catch (error) {
        if (!(error instanceof TesseraError)) throw error;
        if (error.code === 'invalid_grant' || error.code === 'invalid_credentials')
          return loginAgain(request, reply, pending, binding, 'mfa_expired');
        throw error;
      }
      if (!result.ok) {
        const uri = totpUri(body.secret, config.pages.brandName, result.email);
        return enrolPage(reply, pending, binding, {
          mfaToken: body.mfa_token,
          secret: body.secret,
          otpauthUri: uri,
          qrSvg: totpQrSvg(uri),
          wrong: true,
        });
      }
      await loggedIn(pending, binding, result.session);
      const id = pending.request.id;
      return sendPage(
        reply,
        200,
        pages.recoveryCodes({
          action: '/oauth/authorize/continue',
          hidden: { interaction: id, csrf_token: formTokens.issue(binding, 'continue', id) },
          codes: result.recoveryCodes,
          formActions: [pending.request.params.redirectUri],
        }),
      );
    },
  );

  app.post(
    '/authorize/continue',
    {
      config: { policy: { public: true } },
      schema: {
        summary: 'On from the recovery codes page: consent or the code',
        operationId: 'submitContinueForm',
        tags: ['oauth'],
        security: [],
        consumes: ['application/x-www-form-urlencoded'],
        body: ContinueForm,
        response: {
          ...PAGE_REFUSALS,
          200: htmlResponse('The consent page, or the login page when the browser session ended meanwhile'),
          303: { description: 'Back to the client with the code' },
          400: htmlResponse('The request expired or is unknown'),
          403: htmlResponse('A form without its CSRF token or from another site'),
        },
      },
    },
    async (request, reply) => {
      const form = await acceptForm(request, reply, 'continue', request.body);
      if ('refused' in form) return form.refused;
      const { binding, pending } = form;
      return answer(
        request,
        reply,
        await resumeAfterLogin(app, pending, await browserOf(request, binding)),
        binding,
        true,
      );
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

// GET and POST /oauth/logout (OpenID Connect RP-Initiated Logout 1.0), and the
// confirmation form shown when the request carries no valid id_token_hint.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { Text } from '../../schemas.js';
import { PAGE_REFUSALS, htmlResponse, pageErrorHandler, sendPage } from '../../pages/send.js';
import { logOut, planLogout, type LogoutRequest } from '../../authorization/logout.js';
import { redirectWith } from '../../domain/oauth/authorization-request.js';
import {
  browserBinding,
  clearBrowserSession,
  currentBrowserSession,
  isSameOriginPost,
  sentBinding,
} from '../../authorization/browser.js';

const LogoutParams = Type.Object(
  {
    id_token_hint: Type.Optional(Text({ maxLength: 8192, description: 'an ID token Tessera issued' })),
    post_logout_redirect_uri: Type.Optional(Text({ maxLength: 2048, description: 'registered for the client' })),
    state: Type.Optional(Text({ maxLength: 2048, description: 'returned to post_logout_redirect_uri' })),
    client_id: Type.Optional(Text({ maxLength: 128 })),
    ui_locales: Type.Optional(Text({ maxLength: 256 })),
  },
  { additionalProperties: Text({ maxLength: 8192 }) },
);

const ConfirmForm = Type.Object(
  {
    csrf_token: Text({ maxLength: 128 }),
    decision: Type.Union([Type.Literal('logout'), Type.Literal('cancel')]),
    post_logout_redirect_uri: Type.Optional(Text({ maxLength: 2048 })),
    state: Type.Optional(Text({ maxLength: 2048 })),
    client_id: Type.Optional(Text({ maxLength: 128 })),
  },
  { additionalProperties: false },
);

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, pages, formTokens } = app;
  app.setErrorHandler(pageErrorHandler(pages));
  const subjectOf = (sessionId: string | undefined) => sessionId ?? 'no-session';

  const loggedOut = (reply: FastifyReply, redirect: string | undefined, clientName?: string) => {
    clearBrowserSession(reply);
    reply.header('clear-site-data', '"cookies"');
    if (redirect) return reply.redirect(redirect, 303);
    return sendPage(reply, 200, pages.loggedOut({ clientName }));
  };

  async function logout(request: FastifyRequest, reply: FastifyReply, r: LogoutRequest): Promise<FastifyReply> {
    const session = await currentBrowserSession(app.db, request);
    const plan = await planLogout(app, r, session);
    if (plan.kind === 'error')
      return sendPage(reply, 400, pages.error({ message: plan.description, error: 'invalid_request' }));
    if (plan.kind === 'now') {
      await logOut(app.db, { session, hintSessionId: plan.hintSessionId, ip: request.ip });
      clearBrowserSession(reply);
      if (plan.redirect) return reply.redirect(plan.redirect, 302);
      return sendPage(reply, 200, pages.loggedOut({ clientName: plan.client?.name }));
    }
    if (!session) {
      // Nothing to end here; the registered redirect (if any) is still honoured.
      if (plan.redirectUri) return reply.redirect(redirectWith(plan.redirectUri, { state: plan.state }), 302);
      return sendPage(reply, 200, pages.loggedOut({ clientName: plan.client?.name }));
    }
    const binding = browserBinding(request, reply);
    const hidden: Record<string, string> = { csrf_token: formTokens.issue(binding, 'logout', subjectOf(session.id)) };
    if (plan.redirectUri && plan.client) {
      hidden.post_logout_redirect_uri = plan.redirectUri;
      hidden.client_id = plan.client.id;
      if (plan.state !== undefined) hidden.state = plan.state;
    }
    return sendPage(
      reply,
      200,
      pages.logoutConfirm({
        action: '/oauth/logout/confirm',
        hidden,
        clientName: plan.client?.name,
        formActions: plan.redirectUri ? [plan.redirectUri] : [],
      }),
    );
  }

  const common = {
    summary: 'End session endpoint (OpenID Connect RP-Initiated Logout 1.0)',
    tags: ['oauth'],
    security: [],
    response: {
      ...PAGE_REFUSALS,
      200: htmlResponse('The confirmation or logged-out page'),
      302: { description: 'To the registered post_logout_redirect_uri, with state' },
      400: htmlResponse('The error page: unknown client or unregistered redirect URI'),
    },
  };
  app.get(
    '/logout',
    { config: { policy: { public: true } }, schema: { ...common, operationId: 'logout', querystring: LogoutParams } },
    async (request, reply) => logout(request, reply, request.query),
  );
  app.post(
    '/logout',
    {
      config: { policy: { public: true } },
      schema: {
        ...common,
        operationId: 'logoutByPost',
        consumes: ['application/x-www-form-urlencoded'],
        body: LogoutParams,
      },
    },
    async (request, reply) => logout(request, reply, request.body),
  );

  app.post(
    '/logout/confirm',
    {
      config: { policy: { public: true } },
      schema: {
        summary: 'The logout confirmation form',
        operationId: 'confirmLogout',
        tags: ['oauth'],
        security: [],
        consumes: ['application/x-www-form-urlencoded'],
        body: ConfirmForm,
        response: {
          ...PAGE_REFUSALS,
          200: htmlResponse('The logged-out page'),
          303: { description: 'To the registered post_logout_redirect_uri, with state' },
          403: htmlResponse('A form without its CSRF token or from another site'),
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const session = await currentBrowserSession(app.db, request);
      const binding = sentBinding(request);
      if (
        !isSameOriginPost(request, config.issuer) ||
        !formTokens.check(binding, 'logout', subjectOf(session?.id), body.csrf_token)
      ) {
        return sendPage(
          reply,
          403,
          pages.error({ message: 'This form could not be accepted. Please try again.', error: 'forbidden' }),
        );
      }
      if (body.decision === 'cancel')
        return sendPage(reply, 200, pages.error({ title: 'Still signed in', message: 'You are still signed in.' }));
      // The carried redirect is checked again: the form is the browser's, not ours.
      const plan = await planLogout(
        app,
        { post_logout_redirect_uri: body.post_logout_redirect_uri, state: body.state, client_id: body.client_id },
        undefined,
      );
      await logOut(app.db, { session, ip: request.ip });
      const redirect =
        plan.kind === 'confirm' && plan.redirectUri ? redirectWith(plan.redirectUri, { state: plan.state }) : undefined;
      return loggedOut(reply, redirect, plan.kind === 'error' ? undefined : plan.client?.name);
    },
  );
};

export default routes;

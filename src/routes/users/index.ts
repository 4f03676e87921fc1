// POST /users: self-registration while REGISTRATION=open.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { TesseraError } from '../../errors/errors.js';
import { ONE_MINUTE } from '../../plugins/external/rate-limit.js';
import { Email, Password, errors } from '../../schemas.js';
import { registerUser } from '../../users/register-user.js';

const RegisterBody = Type.Object({ email: Email, password: Password }, { additionalProperties: false });
const Registered = Type.Object({ email: Type.String() }, { additionalProperties: false });

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/',
    {
      bodyLimit: 8192,
      config: {
        policy: { public: true },
        rateLimit: { max: app.config.rateLimits.registration, timeWindow: ONE_MINUTE },
      },
      schema: {
        summary: 'Register an account (REGISTRATION=open)',
        description:
          'Answers 201 with the normalized email whether or not the email was already registered, so the endpoint ' +
          'cannot be used to learn which emails have accounts; an existing account is left untouched.',
        operationId: 'registerUser',
        tags: ['users'],
        security: [],
        body: RegisterBody,
        response: { 201: Registered, ...errors(400, 403, 413, 415, 429, 503) },
      },
    },
    async (request, reply) => {
      if (app.config.registration !== 'open') throw new TesseraError('registration_closed');
      const result = await registerUser(app, {
        email: request.body.email,
        password: request.body.password,
        roles: ['user'],
      });
      if (!result.created)
        request.log.info({ event: 'registration_existing_email' }, 'registration for an existing email');
      else request.log.info({ event: 'registration', sub: result.user.id }, 'user registered');
      return reply.code(201).send({ email: result.email });
    },
  );
};

export default routes;

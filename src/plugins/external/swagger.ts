// The OpenAPI document (@fastify/swagger), generated from the route schemas.
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';

export default fp(
  async (app) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Tessera',
          version: '0.1.0',
          description: 'Identity and token service. Generated from the route schemas; do not edit by hand.',
          license: { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' },
        },
        // Relative: the API is served at the root of whatever origin ISSUER names.
        servers: [{ url: '/' }],
        components: {
          securitySchemes: {
            bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
            clientBasic: {
              type: 'http',
              scheme: 'basic',
              description:
                'OAuth client authentication, client_secret_basic (RFC 6749 2.3.1). The OAuth endpoints also ' +
                'accept client_secret_post: client_id and client_secret in the form body instead.',
            },
          },
        },
      },
      refResolver: {
        buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
      },
      // A prefix's root route ('/users' + '/') answers on both paths, but Fastify hands swagger
      // the '/users/' variant; document the path without the slash, as the contract names it.
      transform: ({ schema, url }) => ({ schema, url: url.length > 1 ? url.replace(/\/$/, '') : url }),
    });
  },
  { name: 'swagger' },
);

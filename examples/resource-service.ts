// A resource service that trusts Tessera access tokens, verified locally from the
// issuer's published keys. Run it next to Tessera:
//
//   ISSUER=http://localhost:3000 npx tsx examples/resource-service.ts
//
// then call it with an access token from POST /auth/login:
//
//   curl -H "authorization: Bearer $TOKEN" http://localhost:4000/hello
//
// Settings: ISSUER (required), AUDIENCE (default: the issuer, Tessera's default `aud`),
// PORT (default 4000). A real service would import from '@tessera/verifier/fastify'.
import Fastify from 'fastify';
import tesseraAuth, { requireRole, requireScope } from '@tessera/verifier/fastify';

const issuer = process.env.ISSUER;
if (!issuer) {
  console.error('ISSUER is required, e.g. ISSUER=http://localhost:3000');
  process.exit(2);
}

const app = Fastify({ logger: true });
await app.register(tesseraAuth, { issuer, audience: process.env.AUDIENCE ?? issuer, realm: 'example' });

// Open to anyone: shows what the service needs.
app.get('/', async () => ({ service: 'example', issuer }));

// Any valid access token carrying the `profile` scope.
app.get('/hello', { preHandler: requireScope('profile') }, async (request) => {
  const auth = request.auth!;
  return { hello: auth.sub, scope: auth.scope };
});

// Only tokens whose `roles` include `admin`.
app.get('/admin', { preHandler: requireRole('admin') }, async (request) => ({ admin: request.auth!.sub }));

await app.listen({ port: Number(process.env.PORT ?? 4000), host: process.env.HOST ?? '127.0.0.1' });
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void app.close());

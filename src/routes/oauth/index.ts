// The OAuth endpoints, form-encoded as the RFCs ask: the token endpoint, revocation,
// introspection and the revoked list.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { acceptFormBodiesOnly } from '../../lib/form-body.js';
import tokenRoutes from './token.js';
import revokeRoutes from './revoke.js';
import introspectRoutes from './introspect.js';

const routes: FastifyPluginAsyncTypebox = async (app) => {
  acceptFormBodiesOnly(app);
  await app.register(tokenRoutes);
  await app.register(revokeRoutes);
  await app.register(introspectRoutes);
};

export default routes;

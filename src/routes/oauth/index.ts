// The OAuth endpoints, form-encoded as the RFCs ask: the token endpoint, revocation,
// introspection and the revoked list, and the browser-facing authorization and logout
// endpoints with their hosted forms.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { acceptFormBodiesOnly } from '../../lib/form-body.js';
import tokenRoutes from './token.js';
import revokeRoutes from './revoke.js';
import introspectRoutes from './introspect.js';
import authorizeRoutes from './authorize.js';
import logoutRoutes from './logout.js';

const routes: FastifyPluginAsyncTypebox = async (app) => {
  acceptFormBodiesOnly(app);
  await app.register(tokenRoutes);
  await app.register(revokeRoutes);
  await app.register(introspectRoutes);
  await app.register(authorizeRoutes);
  await app.register(logoutRoutes);
};

export default routes;

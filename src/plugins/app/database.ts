// The database as app.db: PostgreSQL, or the embedded engine locked to this process;
// migrated before any other plugin reads it, closed after all of them.
import fp from 'fastify-plugin';
import type { Database } from '../../db/database.js';
import { openDatabase } from '../../db/open-database.js';

declare module 'fastify' {
  interface FastifyInstance {
    db: Database;
  }
}

interface DatabasePluginOptions {
  /** An open database to share instead of opening one (its owner closes it): a second app in one process. */
  database?: Database | undefined;
}

export default fp<DatabasePluginOptions>(
  async (app, options) => {
    if (options.database) {
      app.decorate('db', options.database);
      return;
    }
    const opened = await openDatabase(app.config.database);
    app.decorate('db', opened.db);
    app.addHook('onClose', () => opened.close());
  },
  { name: 'database', decorators: { fastify: ['config'] } },
);

// The database as app.db: PostgreSQL, or the embedded engine locked to this process;
// migrated before any other plugin reads it, closed after all of them.
import fp from 'fastify-plugin';
import type { Database } from '../../db/database.js';
import { openDatabase } from '../../db/open-database.js';

declare module 'fastify' {
  interface FastifyInstance {
    db: Database;
    /**
     * In production on PostgreSQL: the runtime role could undo the audit guards (it owns
     * the tables or the database, or is a superuser). Reported at start and by /readyz.
     */
    dbRoleTooPowerful: boolean;
  }
}

interface DatabasePluginOptions {
  /** An open database to share instead of opening one (its owner closes it): a second app in one process. */
  database?: Database | undefined;
}

export default fp<DatabasePluginOptions>(
  async (app, options) => {
    let db: Database;
    if (options.database) {
      db = options.database;
    } else {
      const opened = await openDatabase(app.config.database);
      db = opened.db;
      app.addHook('onClose', () => opened.close());
    }
    app.decorate('db', db);
    const tooPowerful = app.config.env === 'production' && db.kind === 'postgres' && (await db.roleOwnsSchema());
    if (tooPowerful) {
      app.log.warn(
        'the DATABASE_URL role owns the schema (or the database, or is a superuser): it could disable the audit log guards; set MIGRATION_DATABASE_URL to the owner and give DATABASE_URL a role of its own',
      );
    }
    app.decorate('dbRoleTooPowerful', tooPowerful);
  },
  { name: 'database', decorators: { fastify: ['config'] } },
);

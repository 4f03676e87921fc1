// Two database roles. The role of MIGRATION_DATABASE_URL owns the schema and runs the
// migrations; the role of DATABASE_URL (the runtime role) gets only the data access the
// service needs, granted by tessera_grant_runtime(role) after every migration run:
//
// - every table: SELECT, INSERT, UPDATE, DELETE, except the audit tables below;
// - security_events, audit_checkpoints, audit_prunes: SELECT and INSERT only;
// - audit_tree: SELECT and UPDATE (the tree's state row; its guard allows growth only);
// - audit_keys: SELECT, INSERT and UPDATE of private_key_enc (re-sealing);
// - migrations: SELECT (commands check that the schema is current);
// - sequences: USAGE and SELECT; no TRUNCATE, no REFERENCES, no TRIGGER anywhere.
//
// Sealing an event and deleting events below a prune point are the two changes the audit
// guards allow; the runtime role makes them through tessera_seal_events and
// tessera_prune_events, which run as the owner (SECURITY DEFINER, fixed search_path) and
// whose statements still pass through the guards. Not owning the tables, the runtime role
// cannot disable a trigger, truncate, alter or drop anything. With one role (the default,
// and the embedded engine) the grant function is never called.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class RuntimeRole1765324800000 implements MigrationInterface {
  name = 'RuntimeRole1765324800000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE FUNCTION tessera_seal_events(ids bigint[], leaf_indexes bigint[], hashes text[]) RETURNS integer
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
      DECLARE
        sealed integer;
      BEGIN
        UPDATE security_events e SET leaf_index = v.leaf_index, hash = v.hash
          FROM unnest(ids, leaf_indexes, hashes) AS v(id, leaf_index, hash)
         WHERE e.id = v.id AND e.leaf_index IS NULL;
        GET DIAGNOSTICS sealed = ROW_COUNT;
        RETURN sealed;
      END $$`);
    await db.query(`
      CREATE FUNCTION tessera_prune_events(below bigint) RETURNS integer
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
      DECLARE
        deleted integer;
      BEGIN
        DELETE FROM security_events WHERE leaf_index < below;
        GET DIAGNOSTICS deleted = ROW_COUNT;
        DELETE FROM audit_checkpoints WHERE tree_size < below;
        RETURN deleted;
      END $$`);
    await db.query('REVOKE EXECUTE ON FUNCTION tessera_seal_events(bigint[], bigint[], text[]) FROM PUBLIC');
    await db.query('REVOKE EXECUTE ON FUNCTION tessera_prune_events(bigint) FROM PUBLIC');

    await db.query(`
      CREATE FUNCTION tessera_grant_runtime(runtime name) RETURNS void
      LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
      DECLARE
        t record;
      BEGIN
        IF runtime = current_user THEN
          RETURN;
        END IF;
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I', runtime);
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM %I', runtime);
        EXECUTE format('REVOKE CREATE ON SCHEMA public FROM %I', runtime);
        -- PostgreSQL before 15 let every role create in public; only the schema's owner can
        -- take that back (for anyone else this is a warning, and the start-up check reports it).
        REVOKE CREATE ON SCHEMA public FROM PUBLIC;
        EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', runtime);
        FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
          IF t.tablename IN ('security_events', 'audit_checkpoints', 'audit_prunes') THEN
            EXECUTE format('GRANT SELECT, INSERT ON %I TO %I', t.tablename, runtime);
          ELSIF t.tablename = 'audit_tree' THEN
            EXECUTE format('GRANT SELECT, UPDATE ON %I TO %I', t.tablename, runtime);
          ELSIF t.tablename = 'audit_keys' THEN
            EXECUTE format('GRANT SELECT, INSERT, UPDATE (private_key_enc) ON %I TO %I', t.tablename, runtime);
          ELSIF t.tablename = 'migrations' THEN
            EXECUTE format('GRANT SELECT ON %I TO %I', t.tablename, runtime);
          ELSE
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO %I', t.tablename, runtime);
          END IF;
        END LOOP;
        EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %I', runtime);
        EXECUTE format('GRANT EXECUTE ON FUNCTION tessera_seal_events(bigint[], bigint[], text[]) TO %I', runtime);
        EXECUTE format('GRANT EXECUTE ON FUNCTION tessera_prune_events(bigint) TO %I', runtime);
      END $$`);
    await db.query('REVOKE EXECUTE ON FUNCTION tessera_grant_runtime(name) FROM PUBLIC');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP FUNCTION tessera_grant_runtime(name)');
    await db.query('DROP FUNCTION tessera_prune_events(bigint)');
    await db.query('DROP FUNCTION tessera_seal_events(bigint[], bigint[], text[])');
  }
}

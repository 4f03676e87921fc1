// The audit log: security_events becomes an append-only, hash-chained log (who, what,
// outcome, target, where from, which request), plus the prune anchor and stored alerts.
//
// The chain lives in the database so that no insert can skip it (the refresh statement
// records its events in SQL): a BEFORE INSERT trigger takes a transaction-scoped
// advisory lock, reads the last event's hash, assigns the next id and computes
//   hash = sha256(prev_hash || canonical JSON of the row)
// where the canonical JSON is PostgreSQL's jsonb text form (keys in a fixed order, one
// spacing), so `tessera audit verify` recomputes it with the same function.
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The advisory lock that serializes appends (any 64-bit constant; the pruning path takes it too). */
const AUDIT_CHAIN_LOCK = '7246001455018131';
/** What the first event links to. */
const GENESIS_HASH = '0'.repeat(64);

export class AuditLog1764720000000 implements MigrationInterface {
  name = 'AuditLog1764720000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE security_events
        ADD COLUMN outcome text NOT NULL DEFAULT 'success' CHECK (outcome IN ('success', 'failure')),
        ADD COLUMN actor text,
        ADD COLUMN target text,
        ADD COLUMN user_agent text,
        ADD COLUMN request_id text,
        ADD COLUMN prev_hash text,
        ADD COLUMN hash text`);
    // Events recorded before this migration: derive what the old rows imply.
    await db.query(
      `UPDATE security_events SET outcome = 'failure' WHERE type IN ('login_failure', 'refresh_reuse', 'password_change_failure')`,
    );
    await db.query(
      `UPDATE security_events SET actor = detail->>'by' WHERE jsonb_typeof(detail->'by') = 'string' AND detail->>'by' <> 'revocation'`,
    );
    await db.query(
      `UPDATE security_events SET target = coalesce(detail->>'kid', detail->>'client_id', user_id::text, session_id::text)`,
    );

    await db.query(`
      CREATE TABLE security_events_anchor (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        through_id bigint NOT NULL,
        hash text NOT NULL,
        pruned_at timestamptz NOT NULL DEFAULT now()
      )`);

    // STABLE, not IMMUTABLE: to_char reads the session, though not for these patterns.
    await db.query(`
      CREATE FUNCTION security_event_hash(e security_events) RETURNS text LANGUAGE sql STABLE AS $$
        SELECT encode(sha256(convert_to(e.prev_hash || jsonb_build_object(
          'id', e.id,
          'created_at', to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
          'type', e.type,
          'outcome', e.outcome,
          'actor', e.actor,
          'target', e.target,
          'user_id', e.user_id,
          'session_id', e.session_id,
          'ip', e.ip,
          'user_agent', e.user_agent,
          'request_id', e.request_id,
          'detail', e.detail
        )::text, 'UTF8')), 'hex')
      $$`);

    // Chain the rows already there, in id order.
    await db.query(`
      DO $$
      DECLARE
        r record;
        prev text := '${GENESIS_HASH}';
      BEGIN
        FOR r IN SELECT id FROM security_events ORDER BY id LOOP
          UPDATE security_events SET prev_hash = prev WHERE id = r.id;
          UPDATE security_events e SET hash = security_event_hash(e) WHERE id = r.id RETURNING hash INTO prev;
        END LOOP;
      END $$`);
    await db.query('ALTER TABLE security_events ALTER COLUMN prev_hash SET NOT NULL, ALTER COLUMN hash SET NOT NULL');

    // Appends are serialized by the lock and read the last hash after taking it (a fresh
    // snapshot: trigger functions are VOLATILE), so concurrent writers form one chain and
    // ids, assigned under the lock, follow the chain. A writer at REPEATABLE READ would
    // not see the last committed event, so it is refused rather than allowed to fork.
    await db.query(`
      CREATE FUNCTION security_events_chain() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        last_hash text;
      BEGIN
        IF current_setting('transaction_isolation') <> 'read committed' THEN
          RAISE EXCEPTION 'security events are recorded at READ COMMITTED isolation only';
        END IF;
        PERFORM pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK});
        SELECT hash INTO last_hash FROM security_events ORDER BY id DESC LIMIT 1;
        IF last_hash IS NULL THEN
          SELECT hash INTO last_hash FROM security_events_anchor;
        END IF;
        NEW.id := nextval(pg_get_serial_sequence('security_events', 'id'));
        NEW.created_at := clock_timestamp();
        NEW.prev_hash := coalesce(last_hash, '${GENESIS_HASH}');
        NEW.hash := security_event_hash(NEW);
        RETURN NEW;
      END $$`);
    // Ids come from the trigger only, so they are consecutive in chain order.
    await db.query('ALTER TABLE security_events ALTER COLUMN id DROP DEFAULT');
    await db.query(
      'CREATE TRIGGER security_events_chain BEFORE INSERT ON security_events FOR EACH ROW EXECUTE FUNCTION security_events_chain()',
    );

    // Append-only: no UPDATE, DELETE or TRUNCATE, except the pruning path, which sets
    // tessera.audit_prune for its own transaction only: it may DELETE events and write
    // the anchor, never change an event.
    await db.query(`
      CREATE FUNCTION security_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF current_setting('tessera.audit_prune', true) = 'on' THEN
          IF TG_TABLE_NAME = 'security_events' AND TG_OP = 'DELETE' THEN
            RETURN OLD;
          END IF;
          IF TG_TABLE_NAME = 'security_events_anchor' AND TG_OP IN ('INSERT', 'UPDATE') THEN
            RETURN NEW;
          END IF;
        END IF;
        RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = '42501';
      END $$`);
    await db.query(
      'CREATE TRIGGER security_events_append_only BEFORE UPDATE OR DELETE ON security_events FOR EACH ROW EXECUTE FUNCTION security_events_append_only()',
    );
    await db.query(
      'CREATE TRIGGER security_events_no_truncate BEFORE TRUNCATE ON security_events FOR EACH STATEMENT EXECUTE FUNCTION security_events_append_only()',
    );
    await db.query(
      'CREATE TRIGGER security_events_anchor_guard BEFORE INSERT OR UPDATE OR DELETE ON security_events_anchor FOR EACH ROW EXECUTE FUNCTION security_events_append_only()',
    );

    await db.query('CREATE INDEX security_events_created_at ON security_events (created_at)');
    await db.query('CREATE INDEX security_events_actor ON security_events (actor, id) WHERE actor IS NOT NULL');
    await db.query('CREATE INDEX security_events_target ON security_events (target, id) WHERE target IS NOT NULL');
    await db.query('CREATE INDEX security_events_user ON security_events (user_id, id) WHERE user_id IS NOT NULL');
    await db.query('CREATE INDEX security_events_type_ip_time ON security_events (type, ip, created_at)');

    await db.query(`
      CREATE TABLE alerts (
        id bigserial PRIMARY KEY,
        rule text NOT NULL,
        subject text NOT NULL,
        severity text NOT NULL CHECK (severity IN ('warning', 'critical')),
        summary text NOT NULL,
        count integer NOT NULL CHECK (count > 0),
        first_seen_at timestamptz NOT NULL DEFAULT now(),
        last_seen_at timestamptz NOT NULL DEFAULT now(),
        first_event_id bigint,
        last_event_id bigint,
        detail jsonb NOT NULL DEFAULT '{}'::jsonb,
        delivery text NOT NULL DEFAULT 'pending' CHECK (delivery IN ('pending', 'delivered', 'failed', 'not_configured')),
        delivery_attempts integer NOT NULL DEFAULT 0,
        delivered_at timestamptz,
        delivery_error text
      )`);
    await db.query('CREATE INDEX alerts_rule_subject ON alerts (rule, subject, first_seen_at DESC)');
    await db.query('CREATE INDEX alerts_first_seen_at ON alerts (first_seen_at)');
    // How far the alert rules have read the log; events before this migration never alert.
    await db.query(`
      CREATE TABLE alert_cursor (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        last_event_id bigint NOT NULL
      )`);
    await db.query('INSERT INTO alert_cursor (last_event_id) SELECT coalesce(max(id), 0) FROM security_events');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE alert_cursor');
    await db.query('DROP TABLE alerts');
    await db.query('DROP TRIGGER security_events_no_truncate ON security_events');
    await db.query('DROP TRIGGER security_events_append_only ON security_events');
    await db.query('DROP TRIGGER security_events_chain ON security_events');
    await db.query(
      `ALTER TABLE security_events ALTER COLUMN id SET DEFAULT nextval('security_events_id_seq'::regclass)`,
    );
    await db.query('DROP TABLE security_events_anchor');
    await db.query('DROP FUNCTION security_events_append_only()');
    await db.query('DROP FUNCTION security_events_chain()');
    await db.query('DROP FUNCTION security_event_hash(security_events)');
    for (const index of [
      'security_events_created_at',
      'security_events_actor',
      'security_events_target',
      'security_events_user',
      'security_events_type_ip_time',
    ]) {
      await db.query(`DROP INDEX ${index}`);
    }
    await db.query(`
      ALTER TABLE security_events
        DROP COLUMN outcome, DROP COLUMN actor, DROP COLUMN target, DROP COLUMN user_agent,
        DROP COLUMN request_id, DROP COLUMN prev_hash, DROP COLUMN hash`);
  }
}

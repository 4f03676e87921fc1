// The audit log becomes a Merkle tree log (RFC 9162) sealed in batches, replacing the
// hash chain whose trigger made every append wait on one advisory lock.
//
// Writers only insert (id from the sequence, created_at from the clock). A sealer, one
// at a time across instances, gives committed events their leaf_index and leaf hash,
// advances audit_tree and signs a checkpoint with the audit key (Ed25519, sealed by
// the master key). Verification recomputes everything in TypeScript; nothing here is a
// function a verifier trusts.
//
// The guards below hold against a role that can run DML (no DDL; that separation is the
// database roles' work): an event never changes except for being sealed once; events and
// checkpoints are deleted only below audit_tree.pruned_size, which only a prune record
// can raise, and a prune record is accepted only with the unlock value that hashes to
// audit_tree.prune_lock: a value derived from the audit key, which needs the master key.
// No session setting opens anything.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AuditTree1764979200000 implements MigrationInterface {
  name = 'AuditTree1764979200000';

  async up(db: QueryRunner): Promise<void> {
    // 1. Away with the chain: its trigger, its functions, its anchor and its prune hole.
    await db.query('DROP TRIGGER security_events_chain ON security_events');
    await db.query('DROP TRIGGER security_events_append_only ON security_events');
    await db.query('DROP TRIGGER security_events_no_truncate ON security_events');
    await db.query('DROP TRIGGER security_events_anchor_guard ON security_events_anchor');
    await db.query('DROP TABLE security_events_anchor');
    await db.query('DROP FUNCTION security_events_chain()');
    await db.query('DROP FUNCTION security_events_append_only()');
    await db.query('DROP FUNCTION security_event_hash(security_events)');

    // 2. Plain inserts; the sealer fills leaf_index and hash (the leaf hash, hex) once.
    await db.query(`
      ALTER TABLE security_events
        ALTER COLUMN id SET DEFAULT nextval(pg_get_serial_sequence('security_events', 'id')::regclass),
        ALTER COLUMN created_at SET DEFAULT clock_timestamp(),
        DROP COLUMN prev_hash,
        ALTER COLUMN hash DROP NOT NULL,
        ADD COLUMN leaf_index bigint`);
    // Events of the chain become the tree's first leaves, in id order, at the first seal.
    await db.query('UPDATE security_events SET hash = NULL');
    await db.query('ALTER TABLE security_events ADD CONSTRAINT security_events_leaf_index UNIQUE (leaf_index)');
    await db.query(
      'ALTER TABLE security_events ADD CONSTRAINT security_events_sealed CHECK ((leaf_index IS NULL) = (hash IS NULL))',
    );
    // What the sealer reads: the few events not sealed yet.
    await db.query('CREATE INDEX security_events_unsealed ON security_events (id) WHERE leaf_index IS NULL');

    // 3. The tree's state, the audit key, checkpoints and prune records.
    await db.query(`
      CREATE TABLE audit_tree (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        size bigint NOT NULL CHECK (size >= 0),
        root_hash text NOT NULL,
        frontier jsonb NOT NULL,
        pruned_size bigint NOT NULL DEFAULT 0 CHECK (pruned_size >= 0 AND pruned_size <= size),
        prune_count integer NOT NULL DEFAULT 0,
        prune_lock text,
        -- The newest signed checkpoint (C2SP signed note), and its delivery to AUDIT_CHECKPOINT_URL.
        checkpoint text,
        pushed_size bigint NOT NULL DEFAULT 0,
        push_attempts integer NOT NULL DEFAULT 0,
        next_push_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // The empty tree: MTH({}) = SHA-256 of nothing.
    await db.query(`
      INSERT INTO audit_tree (size, root_hash, frontier)
      VALUES (0, '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=', '{"size": 0, "hashes": []}'::jsonb)`);
    await db.query(`
      CREATE TABLE audit_keys (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        name text NOT NULL,
        public_key text NOT NULL,
        private_key_enc text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Earlier checkpoints, about one a minute (every batch's is in audit_tree.checkpoint):
    // verification checks the tree against each, which narrows down where a change lies.
    await db.query(`
      CREATE TABLE audit_checkpoints (
        tree_size bigint PRIMARY KEY CHECK (tree_size > 0),
        root_hash text NOT NULL,
        note text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp()
      )`);
    await db.query(`
      CREATE TABLE audit_prunes (
        id bigserial PRIMARY KEY,
        tree_size bigint NOT NULL CHECK (tree_size > 0),
        root_hash text NOT NULL,
        frontier jsonb NOT NULL,
        deleted bigint NOT NULL,
        retention_days integer NOT NULL,
        note text NOT NULL,
        unlock text NOT NULL,
        next_lock text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);

    // 4. The guards.
    await db.query(`
      CREATE FUNCTION security_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' THEN
          -- Sealing, once: leaf_index and hash from NULL to a value, nothing else changes.
          IF OLD.leaf_index IS NULL AND NEW.leaf_index IS NOT NULL
             AND (to_jsonb(NEW) - 'leaf_index' - 'hash') = (to_jsonb(OLD) - 'leaf_index' - 'hash') THEN
            RETURN NEW;
          END IF;
        ELSIF TG_OP = 'DELETE' THEN
          IF OLD.leaf_index IS NOT NULL AND OLD.leaf_index < (SELECT pruned_size FROM audit_tree) THEN
            RETURN OLD;
          END IF;
        END IF;
        RAISE EXCEPTION 'security_events is append-only: % refused', TG_OP USING ERRCODE = '42501';
      END $$`);
    await db.query(
      'CREATE TRIGGER security_events_guard BEFORE UPDATE OR DELETE ON security_events FOR EACH ROW EXECUTE FUNCTION security_events_guard()',
    );

    await db.query(`
      CREATE FUNCTION audit_tree_guard() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' AND NEW.size >= OLD.size THEN
          -- The prune columns move only inside a prune record's insert (the trigger below).
          IF pg_trigger_depth() > 1 THEN
            RETURN NEW;
          END IF;
          IF NEW.pruned_size = OLD.pruned_size AND NEW.prune_count = OLD.prune_count
             AND (NEW.prune_lock IS NOT DISTINCT FROM OLD.prune_lock OR OLD.prune_lock IS NULL) THEN
            RETURN NEW;
          END IF;
        END IF;
        RAISE EXCEPTION 'audit_tree: % refused', TG_OP USING ERRCODE = '42501';
      END $$`);
    await db.query(
      'CREATE TRIGGER audit_tree_guard BEFORE UPDATE OR DELETE ON audit_tree FOR EACH ROW EXECUTE FUNCTION audit_tree_guard()',
    );

    await db.query(`
      CREATE FUNCTION audit_prunes_guard() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        tree audit_tree;
      BEGIN
        IF TG_OP <> 'INSERT' THEN
          RAISE EXCEPTION 'audit_prunes is append-only: % refused', TG_OP USING ERRCODE = '42501';
        END IF;
        SELECT * INTO tree FROM audit_tree FOR UPDATE;
        IF tree.prune_lock IS NULL
           OR encode(sha256(decode(NEW.unlock, 'hex')), 'hex') <> tree.prune_lock
           OR NEW.tree_size <= tree.pruned_size OR NEW.tree_size > tree.size THEN
          RAISE EXCEPTION 'audit_prunes: not a prune this log allows' USING ERRCODE = '42501';
        END IF;
        UPDATE audit_tree SET pruned_size = NEW.tree_size, prune_count = prune_count + 1, prune_lock = NEW.next_lock;
        RETURN NEW;
      END $$`);
    await db.query(
      'CREATE TRIGGER audit_prunes_guard BEFORE INSERT OR UPDATE OR DELETE ON audit_prunes FOR EACH ROW EXECUTE FUNCTION audit_prunes_guard()',
    );

    await db.query(`
      CREATE FUNCTION audit_checkpoints_guard() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' AND OLD.tree_size < (SELECT pruned_size FROM audit_tree) THEN
          RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_checkpoints: % refused', TG_OP USING ERRCODE = '42501';
      END $$`);
    await db.query(
      'CREATE TRIGGER audit_checkpoints_guard BEFORE UPDATE OR DELETE ON audit_checkpoints FOR EACH ROW EXECUTE FUNCTION audit_checkpoints_guard()',
    );

    await db.query(`
      CREATE FUNCTION audit_keys_guard() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        -- Re-sealing under a new master key; the key itself never changes.
        IF TG_OP = 'UPDATE' AND NEW.name = OLD.name AND NEW.public_key = OLD.public_key
           AND NEW.created_at = OLD.created_at THEN
          RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit_keys: % refused', TG_OP USING ERRCODE = '42501';
      END $$`);
    await db.query(
      'CREATE TRIGGER audit_keys_guard BEFORE UPDATE OR DELETE ON audit_keys FOR EACH ROW EXECUTE FUNCTION audit_keys_guard()',
    );
    await db.query(`
      CREATE FUNCTION audit_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION '% cannot be truncated', TG_TABLE_NAME USING ERRCODE = '42501';
      END $$`);
    for (const table of ['security_events', 'audit_tree', 'audit_prunes', 'audit_checkpoints', 'audit_keys']) {
      await db.query(
        `CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION audit_no_truncate()`,
      );
    }

    // 5. The alert rules read sealed events in leaf order: ids no longer follow commit order.
    // Events up to last_event_id were read under the chain and are skipped once.
    await db.query('ALTER TABLE alert_cursor ADD COLUMN last_leaf_index bigint NOT NULL DEFAULT -1');
  }

  down(): Promise<void> {
    // The chain's hashes were cleared and its anchor dropped: there is nothing to go back to.
    return Promise.reject(new Error('the audit tree migration cannot be undone: the chain it replaced is gone'));
  }
}

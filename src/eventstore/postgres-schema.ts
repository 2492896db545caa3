/**
 * The PostgreSQL event store's schema and its one write path, `idm_append_v1`.
 *
 * The ordering hazard. A sequence hands out positions in one order and transactions commit in
 * another: with "everything after position N", a reader that has seen 11 skips 10 when 10's
 * transaction commits later. The cure here is the high-water mark Marten and others use, made
 * exact: every event stores the id of the transaction that wrote it (`xid xid8`), readers only
 * read events whose transaction is older than the oldest one still in flight
 * (`xid < pg_snapshot_xmin(pg_current_snapshot())`), and the append function assigns the
 * transaction id and all of its positions inside one short critical section (a session advisory
 * lock held for the function body only, not for the commit). So transaction ids and positions
 * grow together, and "older than every transaction in flight" always names a prefix of the log:
 * once a reader has delivered position p, no event at or below p can become visible later.
 * Commits (the fsync) are not serialised: several nodes' transactions flush together.
 *
 * Wake-ups are a NOTIFY the adapter sends right after the commit, in a statement of its own: a
 * NOTIFY inside the append transaction would take PostgreSQL's cluster-wide notification lock
 * from pre-commit until the commit is flushed, serialising every appender's fsync again.
 *
 * The rules the proof needs are enforced, not hoped for: the function must be the first write of
 * its transaction (it raises otherwise), so a transaction's id and positions always come from
 * the same critical section; and the lock is released on every error, cancellation included.
 */
import type { PoolClient } from 'pg'

/** Advisory lock keys (per database): the append critical section, and schema creation. */
export const APPEND_LOCK_KEY = 0x1d4e_a001
const SCHEMA_LOCK_KEY = 0x1d4e_a000

export const NOTIFY_CHANNEL = 'idm_events'

const TABLES = `
  CREATE SEQUENCE IF NOT EXISTS idm_events_position AS bigint;
  CREATE TABLE IF NOT EXISTS idm_events (
    position    bigint      PRIMARY KEY,
    xid         xid8        NOT NULL,
    id          uuid        NOT NULL UNIQUE,
    stream      text        NOT NULL,
    revision    bigint      NOT NULL,
    type        text        NOT NULL,
    data        text        NOT NULL,
    metadata    text        NOT NULL,
    recorded_at timestamptz NOT NULL,
    UNIQUE (stream, revision)
  );
`

/*
 * One call appends a whole group commit: K appends (streams, expectations, event counts) and
 * their N events as parallel arrays. Each append is checked and written in turn, seeing the ones
 * before it; a failed check rejects that append alone. data and metadata are text, not jsonb:
 * jsonb reorders keys and refuses \u0000, and the hash chain needs the bytes as written.
 *
 * Outcome per append: 'ok' (next_revision, position), 'wrong' (actual: last revision or NULL for
 * no stream) or 'conflict' (conflict_id: an event id stored elsewhere or partly).
 */
const APPEND_FUNCTION = `
CREATE OR REPLACE FUNCTION idm_append_v1(
  p_streams text[], p_expected text[], p_counts int[],
  p_ids uuid[], p_types text[], p_data text[], p_metadata text[]
) RETURNS TABLE (outcome text, next_revision bigint, last_position bigint, actual bigint, conflict_id uuid)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_xid xid8;
  v_now timestamptz := clock_timestamp();
  v_offset int := 0;
  i int; n int; s text; e text; attempt int;
  ids uuid[];
  stored int; fits boolean; first_stored uuid; last_rev bigint; last_pos bigint;
  inserted int; inserted_ids uuid[]; inserted_pos bigint;
BEGIN
  IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
    RAISE EXCEPTION 'idm_append_v1 must be the first write of its transaction';
  END IF;
  PERFORM pg_advisory_lock(${APPEND_LOCK_KEY});
  BEGIN
    v_xid := pg_current_xact_id();
    FOR i IN 1 .. coalesce(array_length(p_streams, 1), 0) LOOP
      s := p_streams[i]; e := p_expected[i]; n := p_counts[i];
      ids := p_ids[v_offset + 1 : v_offset + n];
      outcome := NULL; next_revision := NULL; last_position := NULL; actual := NULL; conflict_id := NULL;
      attempt := 0;
      LOOP
        attempt := attempt + 1;
        -- A retry of a stored batch (same ids, same stream, consecutive, same order) gets the
        -- first attempt's result; a batch that only partly matches is a client bug.
        SELECT count(ev.id)::int,
               coalesce(bool_and(ev.stream = s), true) AND coalesce(max(ev.revision - t.ord) = min(ev.revision - t.ord), true),
               (array_agg(ev.id ORDER BY t.ord) FILTER (WHERE ev.id IS NOT NULL))[1]
          INTO stored, fits, first_stored
          FROM unnest(ids) WITH ORDINALITY AS t(id, ord)
          LEFT JOIN idm_events ev ON ev.id = t.id;
        IF n > 0 AND stored = n AND fits THEN
          SELECT ev.revision, ev.position INTO next_revision, last_position
            FROM idm_events ev WHERE ev.id = ids[n];
          outcome := 'ok';
          EXIT;
        ELSIF stored > 0 THEN
          outcome := 'conflict'; conflict_id := first_stored;
          EXIT;
        END IF;

        SELECT ev.revision, ev.position INTO last_rev, last_pos
          FROM idm_events ev WHERE ev.stream = s ORDER BY ev.revision DESC LIMIT 1;
        IF NOT (e = 'any'
                OR (e = 'no_stream' AND last_rev IS NULL)
                OR (e = 'stream_exists' AND last_rev IS NOT NULL)
                OR (e ~ '^[0-9]+$' AND last_rev IS NOT DISTINCT FROM e::bigint)) THEN
          outcome := 'wrong'; actual := last_rev;
          EXIT;
        END IF;
        IF n = 0 THEN
          outcome := 'ok'; next_revision := coalesce(last_rev, -1);
          last_position := coalesce(last_pos, (SELECT max(position) FROM idm_events), 0);
          EXIT;
        END IF;

        -- ON CONFLICT DO NOTHING waits for a transaction in flight that wrote the same revision
        -- or id, then skips: the append is undone and checked again against what committed.
        WITH ins AS (
          INSERT INTO idm_events (position, xid, id, stream, revision, type, data, metadata, recorded_at)
          SELECT nextval('idm_events_position'), v_xid, t.id, s, coalesce(last_rev, -1) + t.ord, t.type, t.data, t.metadata, v_now
            FROM unnest(ids, p_types[v_offset + 1 : v_offset + n], p_data[v_offset + 1 : v_offset + n],
                        p_metadata[v_offset + 1 : v_offset + n]) WITH ORDINALITY AS t(id, type, data, metadata, ord)
           ORDER BY t.ord
          ON CONFLICT DO NOTHING
          RETURNING idm_events.id, idm_events.position
        )
        SELECT count(*)::int, array_agg(ins.id), max(ins.position) INTO inserted, inserted_ids, inserted_pos FROM ins;
        IF inserted = n THEN
          outcome := 'ok'; next_revision := coalesce(last_rev, -1) + n; last_position := inserted_pos;
          EXIT;
        END IF;
        IF inserted > 0 THEN
          DELETE FROM idm_events ev WHERE ev.id = ANY (inserted_ids);
        END IF;
        IF attempt >= 3 THEN
          outcome := 'wrong'; actual := last_rev;
          EXIT;
        END IF;
      END LOOP;
      v_offset := v_offset + n;
      RETURN NEXT;
    END LOOP;
    PERFORM pg_advisory_unlock(${APPEND_LOCK_KEY});
  EXCEPTION WHEN OTHERS OR QUERY_CANCELED THEN
    PERFORM pg_advisory_unlock(${APPEND_LOCK_KEY});
    RAISE;
  END;
END
$fn$;
`

/**
 * Creates what is missing, under a transaction advisory lock so that several nodes starting at
 * once do not race on CREATE … IF NOT EXISTS (which is not safe against itself).
 */
export async function ensureSchema (client: PoolClient): Promise<void> {
  await client.query('BEGIN')
  try {
    await client.query(`SELECT pg_advisory_xact_lock(${SCHEMA_LOCK_KEY})`)
    await client.query(TABLES)
    const exists = await client.query("SELECT 1 FROM pg_proc WHERE proname = 'idm_append_v1'")
    if (exists.rowCount === 0) await client.query(APPEND_FUNCTION)
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  }
}

const COLUMNS = 'position, id, stream, revision, type, data, metadata, recorded_at'

export const SQL = {
  append: 'SELECT outcome, next_revision, last_position, actual, conflict_id FROM idm_append_v1($1, $2, $3, $4, $5, $6, $7)',
  streamForwards: `SELECT ${COLUMNS} FROM idm_events WHERE stream = $1 AND revision >= $2 ORDER BY revision ASC LIMIT $3`,
  streamBackwards: `SELECT ${COLUMNS} FROM idm_events WHERE stream = $1 AND revision <= $2 ORDER BY revision DESC LIMIT $3`,
  /** The committed prefix: only transactions older than every one still in flight (see above). */
  safeAfter: `SELECT ${COLUMNS} FROM idm_events
    WHERE position > $1 AND xid < pg_snapshot_xmin(pg_current_snapshot())
    ORDER BY position ASC LIMIT $2`,
  /** Highest committed position, held back or not. */
  head: 'SELECT coalesce(max(position), 0) AS head FROM idm_events',
  notify: `SELECT pg_notify('${NOTIFY_CHANNEL}', $1)`
} as const

export interface EventRow {
  readonly position: string
  readonly id: string
  readonly stream: string
  readonly revision: string
  readonly type: string
  readonly data: string
  readonly metadata: string
  readonly recorded_at: Date
}

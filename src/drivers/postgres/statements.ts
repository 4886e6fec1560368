import type { PoolClient } from "pg";
import { quoteIdent } from "./schema.js";

/** One call of the keyspace's SQL, prepared once per connection under its name. */
export interface Statement {
  readonly name: string;
  readonly text: string;
}

/** Every call the driver makes; the work is in the functions of ./sql. */
export function statements(schema: string) {
  const s = quoteIdent(schema);
  // Prepared statement names are per connection; a user's pool may serve several keyspaces.
  const st = (op: string, text: string): Statement => ({ name: `concord_${op}_${schema}`, text });
  return {
    get: st("get", `SELECT * FROM ${s}.kv_get($1)`),
    range: st("range", `SELECT * FROM ${s}.kv_range($1, $2, $3)`),
    put: st("put", `SELECT * FROM ${s}.kv_put($1, $2, $3, $4, $5, $6, $7)`),
    putRange: st("putrange", `SELECT * FROM ${s}.kv_put_range($1, $2, $3, $4, $5, $6, $7, $8)`),
    increment: st("increment", `SELECT * FROM ${s}.kv_increment($1, $2)`),
    batch: st("batch", `SELECT * FROM ${s}.kv_batch($1::smallint[], $2::text[], $3::bytea[], $4::bigint[], $5::bigint[], $6::text[], $7::bigint[], $8)`),
    delete: st("delete", `SELECT * FROM ${s}.kv_delete($1, $2, $3, $4)`),
    deletePrefix: st("delprefix", `SELECT * FROM ${s}.kv_delete_prefix($1)`),
    changes: st("changes", `SELECT * FROM ${s}.kv_changes($1, $2, $3)`),
    revision: st("revision", `SELECT rev FROM ${s}.meta`),
    grant: st("grant", `SELECT ${s}.lease_grant($1, $2) AS id`),
    keepAlive: st("keepalive", `SELECT ${s}.lease_keep_alive($1, $2) AS ok`),
    revoke: st("revoke", `SELECT ${s}.lease_revoke($1)`),
    sweep: st("sweep", `SELECT * FROM ${s}.lease_sweep($1)`),
    compact: st("compact", `SELECT ${s}.history_compact($1)`),
    trim: st("trim", `SELECT ${s}.history_trim($1)`),
    time: st("time", "SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms"),
  } as const;
}

/** The statements of one keyspace, by operation. */
export type Statements = ReturnType<typeof statements>;

// A key no caller can store (control characters fail validation), for calls that must change nothing.
const NO_KEY = "\u0001concord warm-up";

/**
 * The first call of each function on a connection compiles and plans it, which can cost more than
 * the call itself: a driver pays that while opening, not in its client's first lock or campaign.
 * Every call here refers to a key that cannot exist, so it changes nothing.
 */
export async function warmUp(client: PoolClient, q: Statements): Promise<void> {
  const calls: Array<[Statement, unknown[]]> = [
    [q.putRange, [NO_KEY, new Uint8Array(), null, null, NO_KEY, 1, null, NO_KEY]],
    [q.delete, [NO_KEY, null, NO_KEY, 1]],
    [q.get, [NO_KEY]],
    [q.changes, [NO_KEY, Number.MAX_SAFE_INTEGER, 1]],
    [q.revision, []],
    [q.keepAlive, ["0", null]],
    [q.time, []],
  ];
  for (const [st, values] of calls) await client.query({ name: st.name, text: st.text, values });
}

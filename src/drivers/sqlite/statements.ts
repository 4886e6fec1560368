import type { Database, Statement } from "better-sqlite3";

/** Every statement the driver runs; those marked `pluck` return their first column. */
const SQL = {
  metaGet: "SELECT v FROM concord_meta WHERE k = ?",
  metaSet: "UPDATE concord_meta SET v = ? WHERE k = ?",
  bumpRevision: "UPDATE concord_meta SET v = v + 1 WHERE k = 'revision' RETURNING v",
  get: "SELECT key, value, create_rev, mod_rev, lease FROM concord_kv WHERE key = ?",
  range: "SELECT key, value, create_rev, mod_rev, lease FROM concord_kv WHERE key >= ? AND key > ? AND key < ? ORDER BY key LIMIT ?",
  upsert:
    "INSERT INTO concord_kv (key, value, create_rev, mod_rev, lease) VALUES (?, ?, ?, ?, ?) " +
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, mod_rev = excluded.mod_rev, lease = excluded.lease",
  remove: "DELETE FROM concord_kv WHERE key = ?",
  logPut: "INSERT INTO concord_changes (rev, key, type, value, create_rev, lease) VALUES (?, ?, 0, ?, ?, ?)",
  logDelete: "INSERT INTO concord_changes (rev, key, type) VALUES (?, ?, 1)",
  changes: "SELECT rev, key, type, value, create_rev, lease FROM concord_changes WHERE rev >= ? AND key >= ? AND key < ? ORDER BY rev LIMIT ?",
  trim: "DELETE FROM concord_changes WHERE rev < ?",
  leaseGrant: "INSERT INTO concord_leases (ttl_ms, expires_at) VALUES (?, ?)",
  leaseAlive: "SELECT 1 FROM concord_leases WHERE id = ? AND expires_at > ?",
  leaseExtend: "UPDATE concord_leases SET expires_at = ? + ttl_ms WHERE id = ? AND expires_at > ?",
  leaseDelete: "DELETE FROM concord_leases WHERE id = ?",
  leaseExpired: "SELECT id FROM concord_leases WHERE expires_at <= ? ORDER BY expires_at LIMIT 100",
  leaseNext: "SELECT min(expires_at) FROM concord_leases",
  leaseKeys: "SELECT key, value, create_rev, mod_rev, lease FROM concord_kv WHERE lease = ?",
} as const;

const PLUCK: ReadonlySet<string> = new Set(["metaGet", "bumpRevision", "leaseAlive", "leaseExpired", "leaseNext"]);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Statements = Record<keyof typeof SQL, Statement<any[]>>;

/** Prepares every statement once per connection. */
export function prepare(db: Database): Statements {
  const out: Partial<Statements> = {};
  for (const [name, sql] of Object.entries(SQL)) {
    const st = db.prepare(sql);
    out[name as keyof typeof SQL] = PLUCK.has(name) ? st.pluck() : st;
  }
  return out as Statements;
}

export interface Row {
  key: string;
  value: Uint8Array;
  create_rev: number;
  mod_rev: number;
  lease: number | null;
}

export interface ChangeRow {
  rev: number;
  key: string;
  type: 0 | 1;
  value: Uint8Array | null;
  create_rev: number | null;
  lease: number | null;
}

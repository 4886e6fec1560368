-- Concord's SQLite keyspace. One file, shared by every process on the host that opens it.
CREATE TABLE IF NOT EXISTS concord_meta (
  k TEXT PRIMARY KEY,
  v INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO concord_meta (k, v) VALUES ('revision', 0), ('first_kept', 1), ('schema', 1);

CREATE TABLE IF NOT EXISTS concord_kv (
  key TEXT PRIMARY KEY,
  value BLOB NOT NULL,
  create_rev INTEGER NOT NULL,
  mod_rev INTEGER NOT NULL,
  lease INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS concord_kv_lease ON concord_kv (lease) WHERE lease IS NOT NULL;

-- The change log that watch replays; type 0 = put, 1 = delete.
CREATE TABLE IF NOT EXISTS concord_changes (
  rev INTEGER PRIMARY KEY,
  key TEXT NOT NULL,
  type INTEGER NOT NULL,
  value BLOB,
  create_rev INTEGER,
  lease INTEGER
);

CREATE TABLE IF NOT EXISTS concord_leases (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ttl_ms INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS concord_leases_expiry ON concord_leases (expires_at);

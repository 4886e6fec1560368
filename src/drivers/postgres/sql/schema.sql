-- Concord's PostgreSQL keyspace: every table and function lives in one schema of its own.
-- __S__ is the quoted schema name, __CHANNEL__ the NOTIFY channel (a string literal) and __VERSION__
-- this file set's version; the driver substitutes them and runs every file in one transaction,
-- under an advisory lock, so two clients starting at once cannot race each other's DDL.
CREATE SCHEMA IF NOT EXISTS __S__;

-- One row: the revision of the keyspace. Every write locks this row before it looks at anything
-- (SELECT ... FOR UPDATE) and bumps it when it succeeds; the lock is held to commit, so writers take
-- turns, revision order is commit order, and a reader never sees revision n+1 without n.
CREATE TABLE IF NOT EXISTS __S__.meta (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  rev bigint NOT NULL
);
INSERT INTO __S__.meta (one, rev) VALUES (true, 0) ON CONFLICT DO NOTHING;

-- COLLATE "C": range order is byte order, the same on every server whatever its locale.
CREATE TABLE IF NOT EXISTS __S__.kv (
  key text COLLATE "C" PRIMARY KEY,
  value bytea NOT NULL,
  create_rev bigint NOT NULL,
  mod_rev bigint NOT NULL,
  lease bigint
);
CREATE INDEX IF NOT EXISTS kv_lease ON __S__.kv (lease) WHERE lease IS NOT NULL;

-- The change log that watch replays: exactly one row per revision (type 0 = put, 1 = delete), trimmed
-- only from the oldest end, so "is revision n still here" is one primary-key lookup.
CREATE TABLE IF NOT EXISTS __S__.changes (
  rev bigint PRIMARY KEY,
  key text COLLATE "C" NOT NULL,
  type smallint NOT NULL,
  value bytea,
  create_rev bigint,
  lease bigint
);

-- Lease deadlines in ms since the epoch, on the one clock that judges them (the server's, see now_ms).
CREATE TABLE IF NOT EXISTS __S__.leases (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ttl_ms bigint NOT NULL,
  expires_at bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS leases_expiry ON __S__.leases (expires_at);

-- Present once the whole file set is installed (same transaction), so a client can skip the DDL.
CREATE OR REPLACE FUNCTION __S__.schema_version() RETURNS int
LANGUAGE sql IMMUTABLE AS $$ SELECT __VERSION__ $$;

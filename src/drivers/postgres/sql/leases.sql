-- Leases: granted, kept alive and expired by ONE clock. p_now is NULL in production, so the
-- server's clock_timestamp() judges; a test may pass its own shared clock's reading instead.
CREATE OR REPLACE FUNCTION __S__.now_ms(p_now bigint) RETURNS bigint
LANGUAGE sql VOLATILE AS $$
  SELECT coalesce(p_now, floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)
$$;

CREATE OR REPLACE FUNCTION __S__.lease_grant(p_ttl bigint, p_now bigint) RETURNS bigint
LANGUAGE sql VOLATILE AS $$
  INSERT INTO __S__.leases (ttl_ms, expires_at) VALUES (p_ttl, __S__.now_ms(p_now) + p_ttl) RETURNING id
$$;

-- Extends by the TTL from now; false once expired, even if the sweep has not deleted it yet. The row
-- lock it takes makes a concurrent sweep re-check the deadline it just moved.
CREATE OR REPLACE FUNCTION __S__.lease_keep_alive(p_id bigint, p_now bigint) RETURNS boolean
LANGUAGE sql VOLATILE AS $$
  WITH t AS (SELECT __S__.now_ms(p_now) AS now),
  u AS (
    UPDATE __S__.leases l SET expires_at = t.now + l.ttl_ms FROM t
    WHERE l.id = p_id AND l.expires_at > t.now
    RETURNING 1
  )
  SELECT EXISTS (SELECT FROM u)
$$;

-- Deletes the keys in p_keys, one revision and one change row each, in key order. The caller holds
-- the meta lock. Returns how many were deleted.
CREATE OR REPLACE FUNCTION __S__.delete_keys(p_keys text[]) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  base bigint;
  n bigint;
BEGIN
  IF cardinality(p_keys) = 0 THEN
    RETURN 0;
  END IF;
  SELECT m.rev INTO base FROM __S__.meta m;
  WITH d AS (DELETE FROM __S__.kv k WHERE k.key = ANY (p_keys) RETURNING k.key),
  c AS (
    INSERT INTO __S__.changes (rev, key, type)
    SELECT base + row_number() OVER (ORDER BY d.key), d.key, 1 FROM d
    RETURNING 1
  )
  SELECT count(*) INTO n FROM c;
  IF n > 0 THEN
    UPDATE __S__.meta SET rev = base + n;
    PERFORM pg_notify(__CHANNEL__, (base + n)::text);
  END IF;
  RETURN n;
END
$$;

-- Revoking an unknown lease is a no-op. Takes the meta lock first, like every write, so no put can
-- attach a key to the lease between its keys being deleted and the lease itself.
CREATE OR REPLACE FUNCTION __S__.lease_revoke(p_id bigint) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM FROM __S__.meta FOR UPDATE;
  PERFORM __S__.delete_keys(ARRAY(SELECT k.key FROM __S__.kv k WHERE k.lease = p_id));
  DELETE FROM __S__.leases WHERE id = p_id;
END
$$;

-- Run by every client at the next deadline (and at least every second): expires up to 100 leases
-- whose deadline has passed, deleting their keys with events. Takes the meta lock only when there is
-- something to expire, so idle sweeps never stall writers. Returns the ms until the next deadline
-- (NULL: no lease left), the current revision and how many leases it expired.
CREATE OR REPLACE FUNCTION __S__.lease_sweep(p_now bigint)
RETURNS TABLE (r_next_ms bigint, r_rev bigint, r_expired int)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  l bigint;
  n int := 0;
BEGIN
  IF EXISTS (SELECT FROM __S__.leases WHERE expires_at <= __S__.now_ms(p_now)) THEN
    PERFORM FROM __S__.meta FOR UPDATE;
    -- FOR UPDATE re-checks each deadline against a keep-alive that committed meanwhile.
    FOR l IN
      SELECT x.id FROM __S__.leases x WHERE x.expires_at <= __S__.now_ms(p_now)
      ORDER BY x.expires_at, x.id LIMIT 100 FOR UPDATE
    LOOP
      PERFORM __S__.delete_keys(ARRAY(SELECT k.key FROM __S__.kv k WHERE k.lease = l));
      DELETE FROM __S__.leases WHERE id = l;
      n := n + 1;
    END LOOP;
  END IF;
  RETURN QUERY SELECT (SELECT min(x.expires_at) FROM __S__.leases x) - __S__.now_ms(p_now),
    (SELECT m.rev FROM __S__.meta m), n;
END
$$;

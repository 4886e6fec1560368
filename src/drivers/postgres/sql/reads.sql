-- Reads. Each is one statement or a STABLE function, so it sees one snapshot: the revision it
-- reports and the rows it returns belong together. Prefix ranges end at U+10FFFF, which sorts after
-- every other character in byte order (the SQLite driver bounds them the same way).

CREATE OR REPLACE FUNCTION __S__.kv_get(p_key text)
RETURNS TABLE (r_key text, r_value bytea, r_create bigint, r_mod bigint, r_lease bigint)
LANGUAGE sql STABLE AS $$
  SELECT k.key, k.value, k.create_rev, k.mod_rev, k.lease FROM __S__.kv k WHERE k.key = p_key
$$;

-- First row: kind 10 with the revision read at; then kind 11, one per entry in key order.
-- p_limit NULL means no limit; p_after NULL means from the start of the prefix.
CREATE OR REPLACE FUNCTION __S__.kv_range(p_prefix text, p_after text, p_limit bigint)
RETURNS TABLE (r_kind smallint, r_key text, r_value bytea, r_create bigint, r_mod bigint, r_lease bigint, r_rev bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN QUERY SELECT 10::smallint, NULL::text, NULL::bytea, NULL::bigint, NULL::bigint, NULL::bigint, m.rev
    FROM __S__.meta m;
  -- Two lower bounds on one column: the btree keeps the tighter one at run time, so paging stays an index seek.
  RETURN QUERY SELECT 11::smallint, k.key, k.value, k.create_rev, k.mod_rev, k.lease, NULL::bigint
    FROM __S__.kv k
    WHERE k.key >= p_prefix AND k.key > coalesce(p_after, '') AND k.key < p_prefix || chr(1114111)
    ORDER BY k.key LIMIT p_limit;
END
$$;

-- Changes under p_prefix from revision p_from on, in revision order. If p_from is older than the
-- retained history, a single row of kind -1 carries the oldest revision still kept instead.
CREATE OR REPLACE FUNCTION __S__.kv_changes(p_prefix text, p_from bigint, p_limit bigint)
RETURNS TABLE (r_kind smallint, r_key text, r_value bytea, r_create bigint, r_lease bigint, r_rev bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  cur bigint;
BEGIN
  SELECT m.rev INTO cur FROM __S__.meta m;
  -- One row per revision, trimmed from the oldest end: if p_from's row is gone, so is its history.
  IF p_from <= cur AND NOT EXISTS (SELECT FROM __S__.changes c WHERE c.rev = p_from) THEN
    RETURN QUERY SELECT -1::smallint, NULL::text, NULL::bytea, NULL::bigint, NULL::bigint,
      coalesce((SELECT min(c.rev) FROM __S__.changes c), cur + 1);
    RETURN;
  END IF;
  RETURN QUERY SELECT c.type, c.key, c.value, c.create_rev, c.lease, c.rev
    FROM __S__.changes c
    WHERE c.rev >= p_from AND c.key >= p_prefix AND c.key < p_prefix || chr(1114111)
    ORDER BY c.rev LIMIT p_limit;
END
$$;

-- Drops history before p_rev. Only old rows go, so it never waits for, or stalls, a writer.
CREATE OR REPLACE FUNCTION __S__.history_compact(p_rev bigint) RETURNS void
LANGUAGE sql VOLATILE AS $$
  DELETE FROM __S__.changes WHERE rev < p_rev
$$;

-- Keeps the newest p_keep revisions of history.
CREATE OR REPLACE FUNCTION __S__.history_trim(p_keep bigint) RETURNS void
LANGUAGE sql VOLATILE AS $$
  DELETE FROM __S__.changes WHERE rev <= (SELECT m.rev FROM __S__.meta m) - p_keep
$$;

-- Writes: one function call per operation, so one statement, one transaction, one round trip.
-- Each first locks the meta row, which makes writers take turns: the checks below read the latest
-- committed state, and the revision they assign is in commit order. A failed check changes nothing,
-- not even the revision. Every write ends with pg_notify, delivered at commit, which wakes watchers.
--
-- Result rows of kv_put and kv_delete: r_kind 0 = done, 1 = the ifVersion check failed (or the key was
-- absent, for a delete), 2 = the guard failed, 3 = the lease is expired or unknown. The other
-- columns are the entry: the new one when done (without its value, which the caller has), otherwise
-- the current one (all NULL when absent); a delete that is done returns the previous entry.

-- 0 if the write may proceed, else the r_kind of the refusal. The guard is judged first.
CREATE OR REPLACE FUNCTION __S__.write_check(p_cur_mod bigint, p_if bigint, p_guard_key text, p_guard_ver bigint)
RETURNS smallint
LANGUAGE sql STABLE AS $$
  SELECT (CASE
    WHEN p_guard_key IS NOT NULL
      AND (SELECT g.mod_rev FROM __S__.kv g WHERE g.key = p_guard_key) IS DISTINCT FROM p_guard_ver THEN 2
    WHEN p_if = 0 AND p_cur_mod IS NOT NULL THEN 1
    WHEN p_if > 0 AND p_cur_mod IS DISTINCT FROM p_if THEN 1
    ELSE 0
  END)::smallint
$$;

CREATE OR REPLACE FUNCTION __S__.kv_put(
  p_key text, p_value bytea, p_if bigint, p_lease bigint, p_guard_key text, p_guard_ver bigint, p_now bigint)
RETURNS TABLE (r_kind smallint, r_key text, r_value bytea, r_create bigint, r_mod bigint, r_lease bigint, r_rev bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  cur __S__.kv%ROWTYPE;
  verdict smallint;
  n bigint;
BEGIN
  PERFORM FROM __S__.meta FOR UPDATE;
  SELECT * INTO cur FROM __S__.kv k WHERE k.key = p_key;
  verdict := __S__.write_check(cur.mod_rev, p_if, p_guard_key, p_guard_ver);
  IF verdict = 0 AND p_lease IS NOT NULL AND NOT EXISTS (
    SELECT FROM __S__.leases l WHERE l.id = p_lease AND l.expires_at > __S__.now_ms(p_now)
  ) THEN
    verdict := 3;
  END IF;
  IF verdict <> 0 THEN
    RETURN QUERY SELECT verdict, cur.key, cur.value, cur.create_rev, cur.mod_rev, cur.lease, NULL::bigint;
    RETURN;
  END IF;
  UPDATE __S__.meta SET rev = rev + 1 RETURNING rev INTO n;
  INSERT INTO __S__.kv AS k (key, value, create_rev, mod_rev, lease)
    VALUES (p_key, p_value, coalesce(cur.create_rev, n), n, p_lease)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, mod_rev = excluded.mod_rev, lease = excluded.lease;
  INSERT INTO __S__.changes (rev, key, type, value, create_rev, lease)
    VALUES (n, p_key, 0, p_value, coalesce(cur.create_rev, n), p_lease);
  PERFORM pg_notify(__CHANNEL__, n::text);
  RETURN QUERY SELECT 0::smallint, p_key, NULL::bytea, coalesce(cur.create_rev, n), n, p_lease, n;
END
$$;

CREATE OR REPLACE FUNCTION __S__.kv_delete(p_key text, p_if bigint, p_guard_key text, p_guard_ver bigint)
RETURNS TABLE (r_kind smallint, r_key text, r_value bytea, r_create bigint, r_mod bigint, r_lease bigint, r_rev bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  cur __S__.kv%ROWTYPE;
  verdict smallint;
  n bigint;
BEGIN
  PERFORM FROM __S__.meta FOR UPDATE;
  SELECT * INTO cur FROM __S__.kv k WHERE k.key = p_key;
  verdict := __S__.write_check(cur.mod_rev, p_if, p_guard_key, p_guard_ver);
  IF verdict = 0 AND cur.key IS NULL THEN
    verdict := 1;
  END IF;
  IF verdict <> 0 THEN
    RETURN QUERY SELECT verdict, cur.key, cur.value, cur.create_rev, cur.mod_rev, cur.lease, NULL::bigint;
    RETURN;
  END IF;
  UPDATE __S__.meta SET rev = rev + 1 RETURNING rev INTO n;
  DELETE FROM __S__.kv k WHERE k.key = p_key;
  INSERT INTO __S__.changes (rev, key, type) VALUES (n, p_key, 1);
  PERFORM pg_notify(__CHANNEL__, n::text);
  RETURN QUERY SELECT 0::smallint, cur.key, cur.value, cur.create_rev, cur.mod_rev, cur.lease, n;
END
$$;

-- Every key under the prefix, one revision and one delete event each, in key order.
CREATE OR REPLACE FUNCTION __S__.kv_delete_prefix(p_prefix text)
RETURNS TABLE (r_deleted bigint, r_rev bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  n bigint;
BEGIN
  PERFORM FROM __S__.meta FOR UPDATE;
  n := __S__.delete_keys(ARRAY(
    SELECT k.key FROM __S__.kv k WHERE k.key >= p_prefix AND k.key < p_prefix || chr(1114111)
  ));
  RETURN QUERY SELECT n, m.rev FROM __S__.meta m;
END
$$;

-- kv_put, then kv_range of p_prefix, in one transaction: the put's row first, then the range's rows
-- (which include the put when it was done). A fair queue joins and learns its place in one round trip.
CREATE OR REPLACE FUNCTION __S__.kv_put_range(
  p_key text, p_value bytea, p_if bigint, p_lease bigint, p_guard_key text, p_guard_ver bigint, p_now bigint,
  p_prefix text)
RETURNS TABLE (r_kind smallint, r_key text, r_value bytea, r_create bigint, r_mod bigint, r_lease bigint, r_rev bigint)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RETURN QUERY SELECT * FROM __S__.kv_put(p_key, p_value, p_if, p_lease, p_guard_key, p_guard_ver, p_now);
  -- A new statement of a VOLATILE function: its snapshot includes the put above.
  RETURN QUERY SELECT * FROM __S__.kv_range(p_prefix, NULL, NULL);
END
$$;

-- A counter in one round trip: the value is the decimal text of a safe integer (absent reads 0);
-- writes value + p_delta, detaching the key from any lease as a plain put does. r_kind 0 = done
-- (the new entry, with its value), 4 = the stored value is not such an integer, 5 = the sum would
-- leave the safe integers; neither refusal writes anything.
CREATE OR REPLACE FUNCTION __S__.kv_increment(p_key text, p_delta bigint)
RETURNS TABLE (r_kind smallint, r_key text, r_value bytea, r_create bigint, r_mod bigint, r_lease bigint, r_rev bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  cur __S__.kv%ROWTYPE;
  txt text;
  total numeric := p_delta;
  val bytea;
  n bigint;
BEGIN
  PERFORM FROM __S__.meta FOR UPDATE;
  SELECT * INTO cur FROM __S__.kv k WHERE k.key = p_key;
  IF cur.key IS NOT NULL THEN
    -- 'escape' turns any byte that is not printable ASCII into a backslash sequence: no UTF-8
    -- decoding error for binary values, and nothing but digits can match.
    txt := encode(cur.value, 'escape');
    IF txt !~ '^-?[0-9]+$' OR abs(txt::numeric) > 9007199254740991 THEN
      RETURN QUERY SELECT 4::smallint, cur.key, NULL::bytea, cur.create_rev, cur.mod_rev, cur.lease, NULL::bigint;
      RETURN;
    END IF;
    total := total + txt::numeric;
  END IF;
  IF abs(total) > 9007199254740991 THEN
    RETURN QUERY SELECT 5::smallint, cur.key, NULL::bytea, cur.create_rev, cur.mod_rev, cur.lease, NULL::bigint;
    RETURN;
  END IF;
  val := convert_to(total::text, 'UTF8');
  UPDATE __S__.meta SET rev = rev + 1 RETURNING rev INTO n;
  INSERT INTO __S__.kv (key, value, create_rev, mod_rev, lease)
    VALUES (p_key, val, coalesce(cur.create_rev, n), n, NULL)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, mod_rev = excluded.mod_rev, lease = NULL;
  INSERT INTO __S__.changes (rev, key, type, value, create_rev, lease)
    VALUES (n, p_key, 0, val, coalesce(cur.create_rev, n), NULL);
  PERFORM pg_notify(__CHANNEL__, n::text);
  RETURN QUERY SELECT 0::smallint, p_key, val, coalesce(cur.create_rev, n), n, NULL::bigint, n;
END
$$;

-- Puts (p_types[i] = 0) and deletes (1), all or none, in one call: one round trip, one commit. Every
-- condition is judged first, at one instant (no op names a key an earlier op writes, so judging each
-- in turn on the state before the batch is judging them all); if one fails, its row alone comes back
-- (r_idx = its 0-based index) and nothing is written. Else each op is written in order by kv_put or
-- kv_delete, a revision and a row each.
CREATE OR REPLACE FUNCTION __S__.kv_batch(
  p_types smallint[], p_keys text[], p_values bytea[], p_ifs bigint[], p_leases bigint[],
  p_guard_keys text[], p_guard_vers bigint[], p_now bigint)
RETURNS TABLE (r_idx int, r_kind smallint, r_key text, r_value bytea, r_create bigint, r_mod bigint, r_lease bigint, r_rev bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  cur __S__.kv%ROWTYPE;
  verdict smallint;
  n int := coalesce(array_length(p_keys, 1), 0);
  v_now bigint;
  w record;
BEGIN
  PERFORM FROM __S__.meta FOR UPDATE;
  v_now := __S__.now_ms(p_now); -- one instant for the checks and the writes: a lease judged alive stays so
  FOR i IN 1 .. n LOOP
    SELECT * INTO cur FROM __S__.kv k WHERE k.key = p_keys[i];
    verdict := __S__.write_check(cur.mod_rev, p_ifs[i], p_guard_keys[i], p_guard_vers[i]);
    IF verdict = 0 AND p_types[i] = 1 AND cur.key IS NULL THEN
      verdict := 1;
    END IF;
    IF verdict = 0 AND p_types[i] = 0 AND p_leases[i] IS NOT NULL AND NOT EXISTS (
      SELECT FROM __S__.leases l WHERE l.id = p_leases[i] AND l.expires_at > v_now
    ) THEN
      verdict := 3;
    END IF;
    IF verdict <> 0 THEN
      RETURN QUERY SELECT i - 1, verdict, cur.key, cur.value, cur.create_rev, cur.mod_rev, cur.lease, NULL::bigint;
      RETURN;
    END IF;
  END LOOP;
  FOR i IN 1 .. n LOOP
    IF p_types[i] = 0 THEN
      SELECT * INTO w FROM __S__.kv_put(p_keys[i], p_values[i], p_ifs[i], p_leases[i], p_guard_keys[i], p_guard_vers[i], v_now) w;
    ELSE
      SELECT * INTO w FROM __S__.kv_delete(p_keys[i], p_ifs[i], p_guard_keys[i], p_guard_vers[i]) w;
    END IF;
    IF w.r_kind <> 0 THEN
      -- Cannot happen under the meta lock at one instant; if it did, nothing of the batch stays.
      RAISE EXCEPTION 'concord: batch op % was refused after its check', i - 1;
    END IF;
    r_idx := i - 1;
    r_kind := w.r_kind; r_key := w.r_key; r_value := w.r_value; r_create := w.r_create; r_mod := w.r_mod;
    r_lease := w.r_lease; r_rev := w.r_rev;
    RETURN NEXT;
  END LOOP;
END
$$;

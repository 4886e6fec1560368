import type { DeleteResult, Entry, PutOptions, PutResult, RangeResult, WatchEvent } from "../../driver/types.js";
import { ConcordError } from "../../errors.js";

// How the functions of ./sql answer, turned into the contract's results. bigint columns arrive as
// strings (pg does not guess at precision); revisions stay below 2^53, so Number() is exact.

const ENGINE = "postgres";

/** An entry as the functions return it (all NULL: no entry). */
export interface EntryRow {
  r_key: string | null;
  r_value: Uint8Array | null;
  r_create: string | null;
  r_mod: string | null;
  r_lease: string | null;
}

/** A row of kv_put, kv_delete, kv_increment, kv_range and kv_put_range: `r_kind` says which (see ./sql). */
export interface KindRow extends EntryRow {
  r_kind: number;
  r_rev: string | null;
}

/** A row of kv_changes: kind 0 put, 1 delete, -1 "compacted" (r_rev: the oldest revision kept). */
export interface ChangeRow {
  r_kind: number;
  r_key: string | null;
  r_value: Uint8Array | null;
  r_create: string | null;
  r_lease: string | null;
  r_rev: string;
}

/** A bigint column (a string) or a float8 (a number) as a JS number. */
export function num(v: string | number | null | undefined): number {
  return Number(v);
}

/** The entry a row describes, or undefined when the row says there is none. */
export function toEntry(r: EntryRow | undefined): Entry | undefined {
  if (r?.r_key == null) return undefined;
  return {
    key: r.r_key,
    // A copy: pg's Buffers may share one pooled allocation, and callers get plain bytes everywhere.
    value: new Uint8Array(r.r_value ?? new Uint8Array()),
    createRevision: num(r.r_create),
    modRevision: num(r.r_mod),
    lease: r.r_lease ?? undefined,
  };
}

/** A lease id as the SQL takes it; an id that cannot be one of ours becomes one that matches nothing. */
export function leaseParam(id: string): string {
  return /^[1-9][0-9]{0,17}$/.test(id) ? id : "0";
}

/** A kind 10 header row with the revision, then kind 11 rows (one more than `limit`, to tell `more`). */
export function rangeResult(rows: KindRow[], limit: number | undefined): RangeResult {
  let revision = 0;
  const entries: Entry[] = [];
  for (const r of rows) {
    if (r.r_kind === 10) revision = num(r.r_rev);
    else if (r.r_kind === 11) entries.push(toEntry(r)!);
  }
  const more = limit !== undefined && entries.length > limit;
  if (more) entries.length = limit;
  return { entries, revision, more };
}

/** The verdict of kv_put; an expired or unknown lease is `NOT_HELD`, thrown. */
export function putResult(key: string, value: Uint8Array, opts: PutOptions, r: KindRow | undefined): PutResult {
  switch (r?.r_kind) {
    case 0:
      return {
        ok: true,
        entry: { key, value: value.slice(), createRevision: num(r.r_create), modRevision: num(r.r_mod), lease: opts.lease },
      };
    case 1:
      return { ok: false, current: toEntry(r) };
    case 2:
      return { ok: false, current: toEntry(r), guardFailed: true };
    case 3:
      throw new ConcordError("NOT_HELD", `lease ${opts.lease} has expired or was revoked; the write to ${key} was refused`, { engine: ENGINE });
    default:
      throw new ConcordError("CORRUPT", `postgres: the write to ${key} returned no verdict; is the concord schema intact?`, { engine: ENGINE });
  }
}

/** The verdict of kv_delete: done with the previous entry, or refused with the current one. */
export function deleteResult(r: KindRow | undefined): DeleteResult {
  const current = toEntry(r);
  if (r?.r_kind === 0 && current) return { ok: true, revision: num(r.r_rev), previous: current };
  return r?.r_kind === 2 ? { ok: false, current, guardFailed: true } : { ok: false, current };
}

/** The new entry of kv_increment, or the refusal as the contract names it. */
export function incrementResult(key: string, r: KindRow | undefined): Entry {
  const entry = toEntry(r);
  if (r?.r_kind === 0 && entry) return entry;
  if (r?.r_kind === 5) throw new ConcordError("INVALID_ARGUMENT", "delta: the counter would leave the safe integer range", { engine: ENGINE });
  throw new ConcordError("CORRUPT", `${key} does not hold an integer`, { engine: ENGINE });
}

/** Watch events of kv_changes, or `COMPACTED` when `from` is older than the history kept. */
export function changeEvents(rows: ChangeRow[], from: number): WatchEvent[] {
  if (rows[0]?.r_kind === -1) {
    throw new ConcordError("COMPACTED", `revision ${from} has been compacted; the oldest kept is ${rows[0].r_rev}; re-read and watch from there`, {
      engine: ENGINE,
    });
  }
  return rows.map((r): WatchEvent => {
    const key = r.r_key!;
    const revision = num(r.r_rev);
    if (r.r_kind === 1) return { type: "delete", key, revision };
    const entry = toEntry({ r_key: key, r_value: r.r_value, r_create: r.r_create, r_mod: r.r_rev, r_lease: r.r_lease })!;
    return { type: "put", key, revision, entry };
  });
}

import type { Concord } from "../concord.js";
import { unsegment } from "../internal/names.js";

/** The kinds of primitive the dashboard recognises by the first segment of their keys. */
export const KINDS = ["lock", "election", "semaphore", "rwlock", "value", "counter", "map", "imap", "set", "list", "barrier", "latch", "tasks"] as const;
export type Kind = (typeof KINDS)[number];

export interface PrimitiveView {
  kind: Kind;
  name: string;
  /** Keys the primitive has in the store (queue entries, map entries, task records...). */
  keys: number;
  /** What the dashboard shows for it: holder, leader, value, size or queue counts. */
  detail: Record<string, unknown>;
}

export interface Snapshot {
  namespace: string;
  /** The store revision the key scan was read at. */
  revision: number;
  /** Cluster time from the engine, `{ ms, uncertaintyMs }`, or the error that prevented it. */
  time: { ms: number; uncertaintyMs: number } | { error: string };
  primitives: PrimitiveView[];
  /** True when the scan stopped at `maxKeys` and some primitives may be missing. */
  truncated: boolean;
  takenAt: string;
}

export interface SnapshotOptions {
  /** Stop scanning after this many keys (default 20,000). */
  maxKeys?: number;
  /** Show at most this many primitives (default 500). */
  maxPrimitives?: number;
  signal?: AbortSignal;
}

const PAGE = 1000;

/**
 * Reads what a namespace holds: every primitive found by a key scan, with its live state read
 * through the public API (so the dashboard never depends on how a primitive lays out its keys).
 */
export async function takeSnapshot(c: Concord, opts: SnapshotOptions = {}): Promise<Snapshot> {
  const maxKeys = opts.maxKeys ?? 20_000;
  const maxPrimitives = opts.maxPrimitives ?? 500;
  const ns = `${c.namespace}/`;
  const counts = new Map<string, { kind: Kind; name: string; keys: number }>();
  let revision = 0;
  let scanned = 0;
  let truncated = false;
  let startAfter: string | undefined;
  for (;;) {
    const page = await c.driver.range(ns, { limit: PAGE, startAfter, ...(opts.signal ? { signal: opts.signal } : {}) });
    revision = Math.max(revision, page.revision);
    for (const e of page.entries) {
      const found = classify(e.key.slice(ns.length));
      if (!found) continue;
      const id = `${found.kind}/${found.name}`;
      const seen = counts.get(id);
      if (seen) seen.keys += 1;
      else counts.set(id, { ...found, keys: 1 });
    }
    scanned += page.entries.length;
    if (!page.more || page.entries.length === 0) break;
    if (scanned >= maxKeys) {
      truncated = true;
      break;
    }
    startAfter = page.entries[page.entries.length - 1]!.key;
  }
  const found = [...counts.values()].sort((a, b) => KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind) || (a.name < b.name ? -1 : 1));
  if (found.length > maxPrimitives) truncated = true;
  const primitives = await Promise.all(found.slice(0, maxPrimitives).map(async (p) => ({ ...p, detail: await detailOf(c, p.kind, p.name) })));
  let time: Snapshot["time"];
  try {
    time = await c.time.now();
  } catch (e) {
    time = { error: e instanceof Error ? e.message : String(e) };
  }
  return { namespace: c.namespace, revision, time, primitives, truncated, takenAt: new Date().toISOString() };
}

/** `lock/orders/…` → `{ kind: "lock", name: "orders" }`; keys of no known primitive → undefined. */
export function classify(rel: string): { kind: Kind; name: string } | undefined {
  const slash = rel.indexOf("/");
  if (slash <= 0) return undefined;
  const kind = rel.slice(0, slash) as Kind;
  if (!KINDS.includes(kind)) return undefined;
  const rest = rel.slice(slash + 1);
  const end = rest.indexOf("/");
  const seg = end < 0 ? rest : rest.slice(0, end);
  if (seg.length === 0) return undefined;
  return { kind, name: unsegment(seg) };
}

async function detailOf(c: Concord, kind: Kind, name: string): Promise<Record<string, unknown>> {
  try {
    switch (kind) {
      case "lock": {
        const h = await c.lock(name).holder();
        return h ? { holder: h.owner, token: h.token } : { holder: null };
      }
      case "election": {
        const e = c.election(name);
        const [leader, candidates] = await Promise.all([e.leader(), e.candidates()]);
        return { leader: leader ?? null, candidates: candidates.length };
      }
      case "value": {
        const v = await c.value(name).get();
        return v ? { value: preview(v.value), version: v.version } : { value: null };
      }
      case "counter":
        return { value: await c.counter(name).get() };
      case "map":
        return { size: await c.map(name).size() };
      case "imap":
        return { size: await c.indexedMap(name).size() };
      case "set":
        return { size: await c.set(name).size() };
      case "list":
        return { size: await c.list(name).size() };
      case "tasks":
        return { ...(await c.tasks(name).stats()) };
      default:
        return {};
    }
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

/** Values are shown, not dumped: long ones are cut. */
function preview(v: unknown): unknown {
  const s = typeof v === "string" ? v : JSON.stringify(v);
  if (s === undefined) return String(v);
  return s.length > 200 ? `${s.slice(0, 200)}…` : v;
}

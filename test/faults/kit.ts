import { afterEach, expect } from "vitest";
import { type Concord, connect } from "../../src/index.js";
import { isConcordError } from "../../src/errors.js";
import { engineNames } from "../helpers/engines.js";

/** The server engines of this run (ENGINES narrows them as everywhere else). */
export function serverEngines(): string[] {
  return engineNames().filter((n) => n === "redis" || n === "postgres" || n === "etcd");
}

/** `url` with its host list (and nothing else) replaced by `address`, user-info kept: to go through a proxy. */
export function via(url: string, address: string): string {
  return url.replace(/^([a-z]+:\/\/)([^@/?#]*@)?[^/?#]*/i, (_m, scheme: string, info: string | undefined) => `${scheme}${info ?? ""}${address}`);
}

/** Awaits `p`, expecting a ConcordError with one of `codes`; returns it and how long it took from `since`. */
export async function rejection(p: Promise<unknown>, codes: string[], since = Date.now()): Promise<{ error: Error; ms: number }> {
  try {
    await p;
  } catch (e) {
    const ms = Date.now() - since;
    expect(isConcordError(e) && codes.includes(e.code), `expected ${codes.join(" or ")}, got ${String(e)}`).toBe(true);
    return { error: e as Error, ms };
  }
  throw new Error(`expected ${codes.join(" or ")}, but it resolved`);
}

/** Collects a stream in the background until {@link stop}; `error` holds what ended it, if anything. */
export class Collector<T> {
  readonly items: T[] = [];
  error: unknown;
  readonly #ac = new AbortController();
  readonly done: Promise<void>;

  constructor(make: (signal: AbortSignal) => AsyncIterable<T>) {
    this.done = (async () => {
      try {
        for await (const x of make(this.#ac.signal)) this.items.push(x);
      } catch (e) {
        if (!this.#ac.signal.aborted) this.error = e;
      }
    })();
  }

  async stop(): Promise<void> {
    this.#ac.abort();
    await this.done;
  }
}

/** Every message, stack and cause of `e`, flattened (own enumerable properties too), to search for secrets. */
export function everythingPrinted(e: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  let cur: unknown = e;
  while (cur !== undefined && cur !== null && !seen.has(cur)) {
    seen.add(cur);
    parts.push(String(cur));
    if (typeof cur === "object") {
      const o = cur as { stack?: unknown; message?: unknown; cause?: unknown };
      parts.push(String(o.stack), String(o.message));
      try {
        parts.push(JSON.stringify(cur, Object.getOwnPropertyNames(cur)));
      } catch {
        // circular: the pieces above still count
      }
      try {
        parts.push(JSON.stringify(cur));
      } catch {
        // circular
      }
      for (const k of Object.keys(cur)) {
        const v = (cur as Record<string, unknown>)[k];
        if (typeof v === "string") parts.push(v);
      }
      cur = o.cause;
    } else cur = undefined;
  }
  return parts.join("\n");
}

/**
 * Calls `fn` until it succeeds, retrying only retryable failures (UNAVAILABLE, TIMEOUT) for at most
 * `timeoutMs`: what an application does while a client reconnects by itself. Returns the result and
 * how many attempts failed.
 */
export async function eventually<T>(fn: () => Promise<T>, timeoutMs: number): Promise<{ value: T; failures: number }> {
  const deadline = Date.now() + timeoutMs;
  let failures = 0;
  for (;;) {
    try {
      return { value: await fn(), failures };
    } catch (e) {
      if (!isConcordError(e) || !e.retryable || Date.now() > deadline) throw e;
      failures++;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * Clients and private servers of one test file, all closed after each test: `open(url)` connects a
 * client with a short session TTL, `cleanup(fn)` registers a server's close.
 */
export function useFaultClients(ttlMs: number): { open: (url: string) => Promise<Concord>; cleanup: (fn: () => Promise<void>) => void } {
  let clients: Concord[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    clients = [];
    for (const f of cleanups.splice(0)) await f().catch(() => undefined);
  }, 30_000);
  return {
    open: async (url) => {
      const c = await connect(url, { ttlMs });
      clients.push(c);
      return c;
    },
    cleanup: (fn) => void cleanups.push(fn),
  };
}

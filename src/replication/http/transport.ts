import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { ConcordError, abortedError, closedError, throwIfAborted } from "../../errors.js";
import type { FilteringTransport, PullFilter, PushResult } from "../local-transport.js";
import type { Cursor, ReadResult, ReplicatedEvent, VectorClockJSON } from "../types.js";
import { SYNC_PROTOCOL_VERSION, SYNC_VERSION_HEADER } from "./handler.js";
import { SseParser } from "./sse.js";

const gzipAsync = promisify(gzip);

export interface HttpTransportOptions {
  /** Sent as `Authorization: Bearer TOKEN`. Never appears in an error message. */
  token?: string;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
  /** Bound on each push, pull and version request (not on a stream). Default 30,000 ms. */
  timeoutMs?: number;
  /** Push bodies at least this large are gzipped. Default 64 KiB; `Infinity` never compresses. */
  gzipMinBytes?: number;
  /** The `fetch` to use. Default the global one. */
  fetch?: typeof fetch;
}

/** The URL without user-info or query, safe to put in a message. */
function safeUrl(u: URL): string {
  return `${u.protocol}//${u.host}${u.pathname}`;
}

/**
 * The client side of the sync protocol served by `createSyncHandler`, over `fetch`.
 *
 * Errors are `ConcordError`s: a network failure or a 5xx / 408 / 429 is `UNAVAILABLE` (retryable);
 * 400 and 409 are `INVALID_ARGUMENT` with the server's message (409's says "conflict", so
 * `isIdCollision` recognises it); 413 is `TOO_LARGE`; 401 / 403 are `UNAVAILABLE` and not retryable;
 * 404 / 405 are `UNSUPPORTED` (wrong base URL). A request past `timeoutMs` is `TIMEOUT`.
 *
 * `stream()` reads Server-Sent Events from the body of one request and resolves when the server ends
 * it (or the signal aborts); it does not reconnect by itself: `SyncManager` reconnects with backoff
 * from the last cursor it stored, which is what `Last-Event-ID` would carry.
 */
export class HttpTransport implements FilteringTransport {
  readonly supportsFilter = true as const;
  readonly #base: URL;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #gzipMin: number;
  readonly #fetch: typeof fetch;
  readonly #closing = new AbortController();

  constructor(baseUrl: string | URL, opts: HttpTransportOptions = {}) {
    let u: URL;
    try {
      u = new URL(baseUrl);
    } catch {
      throw new ConcordError("INVALID_ARGUMENT", "baseUrl: is not a URL, e.g. http://127.0.0.1:8080/");
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new ConcordError("INVALID_ARGUMENT", "baseUrl: expected an http: or https: URL");
    if (!u.pathname.endsWith("/")) u.pathname += "/";
    this.#base = u;
    this.#headers = { [SYNC_VERSION_HEADER]: String(SYNC_PROTOCOL_VERSION), ...opts.headers };
    if (opts.token !== undefined) this.#headers["authorization"] = `Bearer ${opts.token}`;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#gzipMin = opts.gzipMinBytes ?? 64 * 1024;
    const f = opts.fetch ?? globalThis.fetch;
    this.#fetch = f;
  }

  #url(route: string, q?: Record<string, string | string[] | undefined>): URL {
    const u = new URL(route, this.#base);
    for (const [k, v] of Object.entries(q ?? {})) {
      if (v === undefined) continue;
      for (const one of Array.isArray(v) ? v : [v]) u.searchParams.append(k, one);
    }
    return u;
  }

  async #request(route: string, init: RequestInit, signal: AbortSignal | undefined, q?: Record<string, string | string[] | undefined>, timed = true): Promise<Response> {
    if (this.#closing.signal.aborted) throw closedError("the HttpTransport");
    throwIfAborted(signal);
    const url = this.#url(route, q);
    const signals = [this.#closing.signal];
    if (signal) signals.push(signal);
    if (timed) signals.push(AbortSignal.timeout(this.#timeoutMs));
    const all = AbortSignal.any(signals);
    let res: Response;
    try {
      res = await this.#fetch(url, { ...init, headers: { ...this.#headers, ...(init.headers as Record<string, string>) }, signal: all });
    } catch (e) {
      if (all.aborted) throw this.#aborted(all, signal);
      throw new ConcordError("UNAVAILABLE", `sync peer ${safeUrl(url)} is unreachable: ${networkReason(e)}`, { cause: e, retryable: true });
    }
    if (!res.ok) throw await httpError(res, url);
    return res;
  }

  #aborted(all: AbortSignal, caller: AbortSignal | undefined): ConcordError {
    if (this.#closing.signal.aborted) return closedError("the HttpTransport");
    if (caller?.aborted) return abortedError(caller);
    return abortedError(all);
  }

  async #json<T>(res: Response, url: string, signal: AbortSignal | undefined): Promise<T> {
    try {
      return (await res.json()) as T;
    } catch (e) {
      if (signal?.aborted) throw abortedError(signal);
      throw new ConcordError("UNAVAILABLE", `sync peer ${url} sent a body that is not JSON`, { cause: e, retryable: true });
    }
  }

  /** Sends events; bodies of at least `gzipMinBytes` go gzipped. */
  async push(events: readonly ReplicatedEvent[], signal?: AbortSignal): Promise<PushResult> {
    const text = JSON.stringify({ events });
    const headers: Record<string, string> = { "content-type": "application/json" };
    let body: string | Buffer = text;
    if (Buffer.byteLength(text) >= this.#gzipMin) {
      body = await gzipAsync(text, { level: 1 });
      headers["content-encoding"] = "gzip";
    }
    const res = await this.#request("push", { method: "POST", headers, body }, signal);
    const r = await this.#json<PushResult>(res, safeUrl(this.#url("push")), signal);
    return { appended: r.appended ?? [], duplicates: r.duplicates ?? [], conflicts: r.conflicts ?? [] };
  }

  async pull(since: Cursor, limit: number, signal?: AbortSignal, filter?: PullFilter): Promise<ReadResult> {
    const res = await this.#request("pull", { method: "GET", headers: { "accept-encoding": "gzip" } }, signal, { since, limit: String(limit), ...filterQuery(filter) });
    const r = await this.#json<ReadResult>(res, safeUrl(this.#url("pull")), signal);
    if (!Array.isArray(r.events) || typeof r.cursor !== "string") throw new ConcordError("UNAVAILABLE", "sync peer answered a pull without events and cursor", { retryable: true });
    return r;
  }

  async version(signal?: AbortSignal): Promise<VectorClockJSON> {
    const res = await this.#request("version", { method: "GET" }, signal);
    const r = await this.#json<{ version?: VectorClockJSON }>(res, safeUrl(this.#url("version")), signal);
    if (typeof r.version !== "object" || r.version === null) throw new ConcordError("UNAVAILABLE", "sync peer answered version without a version", { retryable: true });
    return r.version;
  }

  /**
   * Opens `GET stream?since=…` and calls `onEvents` per message until the server ends the stream
   * (resolves), the connection fails (rejects `UNAVAILABLE`), or `signal` aborts (resolves).
   */
  async stream(since: Cursor, onEvents: (events: ReplicatedEvent[], cursor: Cursor) => void, signal: AbortSignal, filter?: PullFilter): Promise<void> {
    let res: Response;
    try {
      res = await this.#request("stream", { method: "GET", headers: { accept: "text/event-stream" } }, signal, { since, ...filterQuery(filter) }, false);
    } catch (e) {
      if (signal.aborted) return;
      throw e;
    }
    if (!res.body) throw new ConcordError("UNAVAILABLE", "sync peer answered the stream without a body", { retryable: true });
    let failure: ConcordError | undefined;
    const parser = new SseParser((m) => {
      if (m.event === "events") {
        onEvents(JSON.parse(m.data) as ReplicatedEvent[], m.id ?? since);
      } else if (m.event === "error") {
        const e = JSON.parse(m.data) as { message?: string };
        failure = new ConcordError("UNAVAILABLE", `sync peer ended the stream: ${e.message ?? "error"}`, { retryable: true });
      }
    });
    const decoder = new TextDecoder();
    const reader = res.body.getReader();
    const onAbort = (): void => void reader.cancel().catch(() => {});
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.push(decoder.decode(value, { stream: true }));
        if (failure) throw failure;
      }
    } catch (e) {
      if (signal.aborted || this.#closing.signal.aborted) return;
      if (e instanceof ConcordError) throw e;
      throw new ConcordError("UNAVAILABLE", `sync stream from ${safeUrl(this.#base)} broke: ${networkReason(e)}`, { cause: e, retryable: true });
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** Aborts every request and stream in flight; later calls fail with `CLOSED`. */
  close(): Promise<void> {
    this.#closing.abort();
    return Promise.resolve();
  }
}

function filterQuery(f: PullFilter | undefined): Record<string, string | string[] | undefined> {
  return { aggregateId: f?.aggregateIds, type: f?.types, excludeOrigin: f?.excludeOrigin };
}

/** A short reason from a fetch failure (undici hides the socket error in `cause`). */
function networkReason(e: unknown): string {
  const cause = (e as { cause?: { code?: unknown; message?: unknown } })?.cause;
  if (cause && typeof cause.code === "string") return cause.code;
  if (cause && typeof cause.message === "string") return cause.message;
  return e instanceof Error ? e.message : String(e);
}

async function httpError(res: Response, url: URL): Promise<ConcordError> {
  let message = `HTTP ${res.status}`;
  try {
    const body = (await res.json()) as { error?: { message?: unknown } };
    if (typeof body.error?.message === "string") message = body.error.message;
  } catch {
    // Not our JSON error shape (a proxy's page): keep the status line.
  }
  const where = `sync peer ${safeUrl(url)}`;
  const s = res.status;
  if (s === 400 || s === 409) return new ConcordError("INVALID_ARGUMENT", `${where} refused the request (${s}): ${message}`);
  if (s === 413) return new ConcordError("TOO_LARGE", `${where} refused the request as too large: ${message}`);
  if (s === 401 || s === 403) return new ConcordError("UNAVAILABLE", `${where} refused access (${s}): ${message}`, { retryable: false });
  if (s === 404 || s === 405) return new ConcordError("UNSUPPORTED", `${where} does not serve the sync protocol (${s}); check the base URL`);
  if (s === 408 || s === 429 || s >= 500) return new ConcordError("UNAVAILABLE", `${where} is unavailable (${s}): ${message}`, { retryable: true });
  return new ConcordError("INVALID_ARGUMENT", `${where} refused the request (${s}): ${message}`);
}

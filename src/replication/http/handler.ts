import type { IncomingMessage, ServerResponse } from "node:http";
import { timingSafeEqual, createHash } from "node:crypto";
import { promisify } from "node:util";
import { gunzip, gzip } from "node:zlib";
import { isConcordError } from "../../errors.js";
import { isIdCollision } from "../event.js";
import { streamFrom, type PullFilter, type SyncReplica } from "../local-transport.js";
import type { ReplicatedEvent } from "../types.js";
import { sseComment, sseFrame } from "./sse.js";

const gunzipAsync = promisify(gunzip);
const gzipAsync = promisify(gzip);

/** The sync protocol version this handler speaks (header `X-Concord-Sync`, or `version` in a push body). */
export const SYNC_PROTOCOL_VERSION = 1;
/** Header naming the protocol version; optional, but a value other than `1` is refused with 400. */
export const SYNC_VERSION_HEADER = "x-concord-sync";

/** What `authorize` may answer besides `true`: a refusal with its HTTP status (401 or 403) and a message. */
export interface AuthorizeRefusal {
  status: 401 | 403;
  message: string;
}

/**
 * Decides whether a request may sync. `true` (or `undefined`) lets it through; `false` refuses with
 * 401 (no `Authorization` header) or 403; `{ status, message }` refuses with that; a throw refuses
 * with 401, or with the error's `status` when it is 401 or 403, and its message.
 */
export type Authorize = (req: IncomingMessage) => boolean | undefined | AuthorizeRefusal | Promise<boolean | undefined | AuthorizeRefusal>;

export interface SyncHandlerOptions {
  /** Prefix of every route, e.g. `/sync/`. Default `/`. */
  basePath?: string;
  authorize?: Authorize;
  /** Largest request body, compressed and inflated alike; larger is 413. Default 10 MiB. */
  maxBodyBytes?: number;
  /** Most events per push and per pull page; more is 413 (push) or 400 (`limit`). Default 10,000. */
  maxBatch?: number;
  /** Pull page size when `limit` is absent. Default 1,000. */
  defaultLimit?: number;
  /** Responses larger than this many bytes are gzipped for clients that accept it. Default 64 KiB. */
  gzipMinBytes?: number;
  /** Interval of the SSE heartbeat comment. Default 15,000 ms. */
  heartbeatMs?: number;
}

/** A Node request handler; `next` (Express/Connect) is called for paths outside `basePath`. */
export type SyncHandler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void;

class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * `authorize` for a fixed set of bearer tokens: a missing token is 401, a wrong one 403. Tokens are
 * compared by hash in constant time.
 */
export function bearerAuth(tokens: string | readonly string[]): Authorize {
  const hash = (s: string): Buffer => createHash("sha256").update(s).digest();
  const wanted = (typeof tokens === "string" ? [tokens] : tokens).map(hash);
  return (req) => {
    const h = req.headers.authorization;
    const m = h === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (!m) return { status: 401, message: "a bearer token is required (Authorization: Bearer TOKEN)" };
    const got = hash(m[1]!);
    return wanted.some((w) => timingSafeEqual(w, got)) ? true : { status: 403, message: "the bearer token is not accepted" };
  };
}

function send(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), ...extra });
  res.end(text);
}

async function sendMaybeGzip(req: IncomingMessage, res: ServerResponse, body: unknown, minBytes: number): Promise<void> {
  const text = JSON.stringify(body);
  const accepts = /\bgzip\b/i.test(req.headers["accept-encoding"] ?? "");
  if (!accepts || Buffer.byteLength(text) < minBytes) return send(res, 200, body);
  // Level 1: on a LAN the CPU spent on higher levels costs more than the bytes it saves.
  const z = await gzipAsync(text, { level: 1 });
  res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-encoding": "gzip", "content-length": z.length, vary: "accept-encoding" });
  res.end(z);
}

/** Reads the body up to `max` bytes; past it, stops keeping bytes and fails with 413. */
function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > max) return Promise.reject(new HttpError(413, "TOO_LARGE", `body: ${declared} bytes is above the limit of ${max}`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > max) {
        failed = true;
        chunks.length = 0;
        reject(new HttpError(413, "TOO_LARGE", `body: more than the limit of ${max} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on("error", (e) => {
      if (!failed) reject(e);
    });
  });
}

async function decode(req: IncomingMessage, raw: Buffer, max: number): Promise<Buffer> {
  const enc = (req.headers["content-encoding"] ?? "identity").trim().toLowerCase();
  if (enc === "identity" || enc === "") return raw;
  if (enc !== "gzip" && enc !== "x-gzip") throw new HttpError(415, "UNSUPPORTED", `content-encoding: ${JSON.stringify(enc)} is not supported; send gzip or no encoding`);
  try {
    // maxOutputLength stops inflating at the limit, so a gzip bomb costs at most `max` bytes.
    return await gunzipAsync(raw, { maxOutputLength: max });
  } catch (e) {
    if ((e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") throw new HttpError(413, "TOO_LARGE", `body: inflates to more than the limit of ${max} bytes`);
    throw new HttpError(400, "INVALID_ARGUMENT", "body: is not valid gzip");
  }
}

function parsePush(text: string, maxBatch: number): unknown[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, "INVALID_ARGUMENT", "body: is not valid JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new HttpError(400, "INVALID_ARGUMENT", "body: expected an object { events: [...] }");
  for (const key of Object.keys(body)) {
    if (key !== "events" && key !== "version") throw new HttpError(400, "INVALID_ARGUMENT", `body.${key}: unknown field; expected only events and version`);
  }
  const o = body as { events?: unknown; version?: unknown };
  if (o.version !== undefined && o.version !== SYNC_PROTOCOL_VERSION) {
    throw new HttpError(400, "INVALID_ARGUMENT", `body.version: protocol version ${JSON.stringify(o.version)} is not supported; this server speaks ${SYNC_PROTOCOL_VERSION}`);
  }
  if (!Array.isArray(o.events)) throw new HttpError(400, "INVALID_ARGUMENT", "body.events: expected an array of events");
  if (o.events.length > maxBatch) throw new HttpError(413, "TOO_LARGE", `body.events: ${o.events.length} events is above the limit of ${maxBatch} per push`);
  return o.events;
}

const CURSOR = /^\d{0,40}$/;

function readCursor(q: URLSearchParams, name: string, fallback: string | undefined): string {
  const v = q.get(name) ?? fallback ?? "";
  if (!CURSOR.test(v)) throw new HttpError(400, "INVALID_ARGUMENT", `${name}: ${JSON.stringify(v.slice(0, 60))} is not a cursor (a decimal position)`);
  return v;
}

function readFilter(q: URLSearchParams): PullFilter {
  const f: PullFilter = {};
  const aggs = q.getAll("aggregateId");
  const types = q.getAll("type");
  const ex = q.get("excludeOrigin");
  if (aggs.length > 0) f.aggregateIds = aggs;
  if (types.length > 0) f.types = types;
  if (ex !== null) f.excludeOrigin = ex;
  return f;
}

function readLimit(q: URLSearchParams, dflt: number, max: number): number {
  const raw = q.get("limit");
  if (raw === null) return dflt;
  const n = /^\d{1,9}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(n >= 1 && n <= max)) throw new HttpError(400, "INVALID_ARGUMENT", `limit: expected an integer from 1 to ${max}, got ${JSON.stringify(raw.slice(0, 60))}`);
  return n;
}

async function checkAuth(authorize: Authorize | undefined, req: IncomingMessage): Promise<void> {
  if (!authorize) return;
  let verdict: Awaited<ReturnType<Authorize>>;
  try {
    verdict = await authorize(req);
  } catch (e) {
    const status = (e as { status?: unknown; statusCode?: unknown }).status ?? (e as { statusCode?: unknown }).statusCode;
    const message = e instanceof Error && e.message ? e.message : "not authorized";
    throw new HttpError(status === 403 ? 403 : 401, status === 403 ? "FORBIDDEN" : "UNAUTHORIZED", message);
  }
  if (verdict === true || verdict === undefined) return;
  if (verdict === false) {
    const anon = req.headers.authorization === undefined;
    throw new HttpError(anon ? 401 : 403, anon ? "UNAUTHORIZED" : "FORBIDDEN", anon ? "credentials are required" : "not allowed");
  }
  const status = verdict.status === 403 ? 403 : 401;
  throw new HttpError(status, status === 403 ? "FORBIDDEN" : "UNAUTHORIZED", verdict.message || "not authorized");
}

/** The HTTP status for an error thrown by the replica. */
function fromReplicaError(e: unknown): HttpError {
  if (e instanceof HttpError) return e;
  if (isConcordError(e)) {
    switch (e.code) {
      case "INVALID_ARGUMENT":
        return isIdCollision(e) ? new HttpError(409, "CONFLICT", e.message) : new HttpError(400, "INVALID_ARGUMENT", e.message);
      case "TOO_LARGE":
        return new HttpError(413, "TOO_LARGE", e.message);
      case "UNAVAILABLE":
      case "CLOSED":
      case "TIMEOUT":
        return new HttpError(503, "UNAVAILABLE", e.message);
      default:
        return new HttpError(500, e.code, e.message);
    }
  }
  return new HttpError(500, "INTERNAL", "internal error");
}

/**
 * The sync protocol as a Node request handler, for `http.createServer(handler)`, or as Express /
 * Connect / Fastify (`fastify.all("/sync/*", (rq, rp) => handler(rq.raw, rp.raw))`) middleware.
 *
 * Routes under `basePath`:
 * - `POST push`, body `{ events: [...] }` (optionally `version: 1`; gzip accepted) → `{ appended, duplicates, conflicts }`;
 * - `GET pull?since=CURSOR&limit=N` (also `aggregateId=`, `type=` repeated, `excludeOrigin=`) → `{ events, cursor }`,
 *   gzipped for clients that accept it when large;
 * - `GET version` → `{ version }` (the replica's version vector);
 * - `GET stream?since=CURSOR` (same filters; `Last-Event-ID` is used when `since` is absent): Server-Sent Events,
 *   first everything after the cursor, then new events as they are stored, each message
 *   `event: events`, `data: [ ...events ]`, `id: CURSOR`; a heartbeat comment every `heartbeatMs`.
 *
 * Errors are JSON `{ error: { code, message } }`: 400 bad JSON, types, cursor, limit or protocol
 * version; 401/403 from `authorize`; 409 an event whose id is stored with different content; 413 a
 * body above `maxBodyBytes` (also once inflated) or a push above `maxBatch`; 404 unknown route; 405
 * wrong method. A refused push stores nothing: `Replica.receive` checks the whole batch first.
 */
export function createSyncHandler(replica: SyncReplica, opts: SyncHandlerOptions = {}): SyncHandler {
  let base = opts.basePath ?? "/";
  if (!base.startsWith("/")) base = `/${base}`;
  if (!base.endsWith("/")) base = `${base}/`;
  const maxBody = opts.maxBodyBytes ?? 10 * 1024 * 1024;
  const maxBatch = opts.maxBatch ?? 10_000;
  const defaultLimit = Math.min(opts.defaultLimit ?? 1000, maxBatch);
  const gzipMin = opts.gzipMinBytes ?? 64 * 1024;
  const heartbeatMs = opts.heartbeatMs ?? 15_000;

  async function handle(req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (!url.pathname.startsWith(base)) {
      if (next) return next();
      throw new HttpError(404, "NOT_FOUND", `no route ${url.pathname}; routes are under ${base}`);
    }
    const route = url.pathname.slice(base.length);
    const method = route === "push" ? "POST" : route === "pull" || route === "version" || route === "stream" ? "GET" : undefined;
    if (method === undefined) {
      if (next) return next();
      throw new HttpError(404, "NOT_FOUND", `no route ${url.pathname}; expected ${base}push, pull, version or stream`);
    }
    if (req.method !== method) {
      throw new HttpError(405, "METHOD_NOT_ALLOWED", `${url.pathname} takes ${method}, not ${req.method ?? "?"}`);
    }
    const v = req.headers[SYNC_VERSION_HEADER];
    if (v !== undefined && v !== String(SYNC_PROTOCOL_VERSION)) {
      throw new HttpError(400, "INVALID_ARGUMENT", `${SYNC_VERSION_HEADER}: protocol version ${JSON.stringify(v)} is not supported; this server speaks ${SYNC_PROTOCOL_VERSION}`);
    }
    await checkAuth(opts.authorize, req);
    const q = url.searchParams;
    switch (route) {
      case "push": {
        // Behind a body parser (express.json()) the body has been read already.
        const parsed = (req as { body?: unknown }).body;
        const text = parsed !== undefined && req.readableEnded ? JSON.stringify(parsed) : (await decode(req, await readBody(req, maxBody), maxBody)).toString("utf8");
        const events = parsePush(text, maxBatch);
        let r;
        try {
          r = await replica.receive(events);
        } catch (e) {
          throw fromReplicaError(e);
        }
        return send(res, 200, { appended: r.appended, duplicates: r.duplicates, conflicts: r.conflicts });
      }
      case "pull": {
        const since = readCursor(q, "since", undefined);
        const limit = readLimit(q, defaultLimit, maxBatch);
        const filter = readFilter(q);
        let page;
        try {
          page = await replica.events({ since, limit, ...filter });
        } catch (e) {
          throw fromReplicaError(e);
        }
        return sendMaybeGzip(req, res, page, gzipMin);
      }
      case "version":
        return send(res, 200, { version: await replica.version() });
      case "stream":
        return stream(req, res, readCursor(q, "since", header(req, "last-event-id")), readFilter(q));
    }
  }

  async function stream(req: IncomingMessage, res: ServerResponse, since: string, filter: PullFilter): Promise<void> {
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive", "x-accel-buffering": "no" });
    res.flushHeaders();
    const done = new AbortController();
    const stop = (): void => done.abort();
    req.on("close", stop);
    res.on("close", stop);
    const beat = setInterval(() => res.write(sseComment("heartbeat")), heartbeatMs);
    beat.unref();
    res.write(sseComment("concord sync stream"));
    const write = (events: ReplicatedEvent[], cursor: string): void | Promise<void> => {
      if (res.write(sseFrame("events", JSON.stringify(events), cursor))) return;
      return new Promise<void>((resolve) => {
        const go = (): void => {
          res.off("drain", go);
          done.signal.removeEventListener("abort", go);
          resolve();
        };
        res.on("drain", go);
        done.signal.addEventListener("abort", go);
      });
    };
    try {
      await streamFrom(replica, since, filter, defaultLimit, write, done.signal);
    } catch (e) {
      const err = fromReplicaError(e);
      if (!res.destroyed) res.write(sseFrame("error", JSON.stringify({ code: err.code, message: err.message })));
    } finally {
      clearInterval(beat);
      req.off("close", stop);
      res.off("close", stop);
      res.end();
    }
  }

  return (req, res, next) => {
    handle(req, res, next).catch((e: unknown) => {
      const err = e instanceof HttpError ? e : fromReplicaError(e);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const extra: Record<string, string> = err.status === 401 ? { "www-authenticate": 'Bearer realm="concord-sync"' } : {};
      if (err.status === 413) extra["connection"] = "close";
      send(res, err.status, { error: { code: err.code, message: err.message } }, extra);
      // Whatever of the body is left is read and dropped (not kept), so the client sees the answer.
      if (!req.readableEnded) req.resume();
    });
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Concord } from "../concord.js";
import { invalid } from "../errors.js";
import { PAGE_HTML } from "./page.js";
import { type Snapshot, takeSnapshot } from "./snapshot.js";

export interface DashboardOptions {
  /** Refresh at least this often even when nothing changed (lease expiry shows without a write). Default 2,000 ms. */
  refreshMs?: number;
  /** Changes arriving within this window make one refresh. Default 100 ms. */
  debounceMs?: number;
  /** Path the handler serves under, ending in `/`. Default `/`. */
  basePath?: string;
}

export interface DashboardHandler {
  (req: IncomingMessage, res: ServerResponse, next?: () => void): void;
  /** Stops the watch and ends every open event stream. */
  close(): Promise<void>;
}

/**
 * The live dashboard as a request handler for Node's `http` (or Express/Fastify middleware):
 * `GET {base}` the page, `GET {base}snapshot.json` one snapshot, `GET {base}events` Server-Sent
 * Events carrying a new snapshot after every change in the namespace (one shared watch).
 */
export function createDashboardHandler(c: Concord, opts: DashboardOptions = {}): DashboardHandler {
  const refreshMs = opts.refreshMs ?? 2_000;
  const debounceMs = opts.debounceMs ?? 100;
  const base = opts.basePath ?? "/";
  if (!Number.isSafeInteger(refreshMs) || refreshMs < 100) throw invalid("refreshMs", `expected an integer >= 100, got ${String(opts.refreshMs)}`);
  if (!Number.isSafeInteger(debounceMs) || debounceMs < 0) throw invalid("debounceMs", `expected a non-negative integer, got ${String(opts.debounceMs)}`);
  if (typeof base !== "string" || !base.startsWith("/") || !base.endsWith("/")) throw invalid("basePath", "expected a path starting and ending with /");

  const streams = new Set<ServerResponse>();
  const stop = new AbortController();
  let latest: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let refreshing: Promise<void> | undefined;
  let again = false;
  let watching: Promise<void> | undefined;

  const refresh = (): Promise<void> => {
    if (refreshing) {
      again = true;
      return refreshing;
    }
    refreshing = (async () => {
      do {
        again = false;
        let snap: Snapshot | { error: string };
        try {
          snap = await takeSnapshot(c, { signal: stop.signal });
        } catch (e) {
          if (stop.signal.aborted) return;
          snap = { error: e instanceof Error ? e.message : String(e) };
        }
        latest = JSON.stringify(snap);
        for (const res of streams) res.write(`data: ${latest}\n\n`);
      } while (again && !stop.signal.aborted);
    })().finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  };
  const schedule = () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void refresh();
    }, debounceMs);
  };
  const startWatching = () => {
    if (watching) return;
    watching = (async () => {
      while (!stop.signal.aborted) {
        try {
          const changes = c.driver.watch(`${c.namespace}/`, { signal: stop.signal });
          for await (const change of changes) if (change) schedule();
        } catch {
          if (stop.signal.aborted) return;
          await new Promise((r) => setTimeout(r, 500)); // the engine is away: retry the watch
        }
      }
    })();
  };
  const ticker = setInterval(() => {
    if (streams.size > 0) void refresh();
  }, refreshMs);
  ticker.unref();

  const handler = ((req: IncomingMessage, res: ServerResponse, next?: () => void) => {
    const url = new URL(req.url ?? "/", "http://dashboard");
    if (!url.pathname.startsWith(base)) {
      if (next) return next();
      return send(res, 404, "application/json", JSON.stringify({ error: { code: "NOT_FOUND", message: `no route ${url.pathname}` } }));
    }
    const route = url.pathname.slice(base.length);
    if (req.method !== "GET" && req.method !== "HEAD") {
      return send(res, 405, "application/json", JSON.stringify({ error: { code: "METHOD_NOT_ALLOWED", message: `${req.method} is not allowed; use GET` } }));
    }
    if (route === "" || route === "index.html") return send(res, 200, "text/html; charset=utf-8", PAGE_HTML);
    if (route === "snapshot.json") {
      takeSnapshot(c).then(
        (s) => send(res, 200, "application/json", JSON.stringify(s)),
        (e: unknown) => send(res, 503, "application/json", JSON.stringify({ error: { code: "UNAVAILABLE", message: e instanceof Error ? e.message : String(e) } })),
      );
      return;
    }
    if (route === "events") {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
      res.write(": concord dashboard\n\n");
      if (latest) res.write(`data: ${latest}\n\n`);
      streams.add(res);
      req.on("close", () => streams.delete(res));
      startWatching();
      void refresh();
      return;
    }
    if (next) return next();
    send(res, 404, "application/json", JSON.stringify({ error: { code: "NOT_FOUND", message: `no route ${url.pathname}` } }));
  }) as DashboardHandler;
  handler.close = async () => {
    stop.abort();
    clearInterval(ticker);
    if (timer) clearTimeout(timer);
    for (const res of streams) res.end();
    streams.clear();
    await Promise.allSettled([watching, refreshing]);
  };
  return handler;
}

export interface RunningDashboard {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** Serves the dashboard on `host:port` (default 127.0.0.1, a free port). */
export async function startDashboard(c: Concord, opts: DashboardOptions & { port?: number; host?: string } = {}): Promise<RunningDashboard> {
  const port = opts.port ?? 0;
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535) throw invalid("port", `expected 0..65535, got ${String(opts.port)}`);
  const host = opts.host ?? "127.0.0.1";
  const handler = createDashboardHandler(c, opts);
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    server,
    url: `http://${host}:${addr.port}/`,
    close: async () => {
      await handler.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

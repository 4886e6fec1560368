import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { isConcordError } from "../../src/errors.js";
import { bearerAuth, createSyncHandler, type SyncHandlerOptions } from "../../src/replication/http/handler.js";
import { HttpTransport } from "../../src/replication/http/transport.js";
import { Replica } from "../../src/replication/replica.js";
import { MemoryEventStore } from "../../src/replication/stores/memory.js";
import type { ReplicatedEvent } from "../../src/replication/types.js";

interface Served {
  replica: Replica;
  url: string;
  server: Server;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function serve(opts: SyncHandlerOptions = {}, nodeId = "server"): Promise<Served> {
  const replica = new Replica({ nodeId, store: new MemoryEventStore() });
  const server = createServer(createSyncHandler(replica, opts));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return { replica, server, url: `http://127.0.0.1:${port}${opts.basePath ?? "/"}` };
}

/** Events made by a scratch replica, as a peer would push them. */
async function made(n: number, nodeId = "laptop", aggregateId = "cart-1"): Promise<ReplicatedEvent[]> {
  const r = new Replica({ nodeId, store: new MemoryEventStore() });
  for (let i = 0; i < n; i++) await r.append({ type: "ItemAdded", aggregateId, data: { sku: `s${i}`, qty: i } });
  return (await r.events({ limit: 100_000 })).events;
}

async function post(url: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: { error?: { code: string; message: string } } & Record<string, unknown> }> {
  const res = await fetch(url, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
  return { status: res.status, body: (await res.json()) as never };
}

async function snapshot(r: Replica): Promise<string[]> {
  return (await r.events({ limit: 100_000 })).events.map((e) => e.id);
}

describe("createSyncHandler over a real HTTP server", () => {
  it("push stores events and reports duplicates on re-delivery; pull pages with a cursor; version reports the vector", async () => {
    const s = await serve();
    const events = await made(5);
    const first = await post(`${s.url}push`, JSON.stringify({ events }));
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ appended: events.map((e) => e.id), duplicates: [], conflicts: [] });
    const again = await post(`${s.url}push`, JSON.stringify({ events, version: 1 }), { "x-concord-sync": "1" });
    expect(again.body).toMatchObject({ appended: [], duplicates: events.map((e) => e.id) });

    const p1 = (await (await fetch(`${s.url}pull?since=&limit=3`)).json()) as { events: ReplicatedEvent[]; cursor: string };
    expect(p1.events.map((e) => e.id)).toEqual(events.slice(0, 3).map((e) => e.id));
    const p2 = (await (await fetch(`${s.url}pull?since=${p1.cursor}&limit=3`)).json()) as { events: ReplicatedEvent[]; cursor: string };
    expect(p2.events.map((e) => e.id)).toEqual(events.slice(3).map((e) => e.id));
    const p3 = (await (await fetch(`${s.url}pull?since=${p2.cursor}`)).json()) as { events: ReplicatedEvent[]; cursor: string };
    expect(p3).toEqual({ events: [], cursor: p2.cursor });
    expect(p1.events[0]).toEqual(events[0]);

    const v = (await (await fetch(`${s.url}version`)).json()) as { version: Record<string, number> };
    expect(v.version).toEqual({ laptop: 5 });
  });

  it("pull filters by excludeOrigin, aggregateId and type", async () => {
    const s = await serve();
    await s.replica.receive([...(await made(2, "a", "cart-a")), ...(await made(3, "b", "cart-b"))]);
    const get = async (q: string): Promise<ReplicatedEvent[]> => ((await (await fetch(`${s.url}pull?${q}`)).json()) as { events: ReplicatedEvent[] }).events;
    expect((await get("excludeOrigin=a")).map((e) => e.origin)).toEqual(["b", "b", "b"]);
    expect((await get("aggregateId=cart-a")).length).toBe(2);
    expect((await get("type=Nope")).length).toBe(0);
  });

  it.each([
    ["malformed JSON", "{ events: [", 400, "INVALID_ARGUMENT", /not valid JSON/],
    ["a body that is not an object", "[1,2]", 400, "INVALID_ARGUMENT", /expected an object/],
    ["events that is not an array", '{"events":{}}', 400, "INVALID_ARGUMENT", /body\.events/],
    ["an unknown protocol version in the body", '{"events":[],"version":2}', 400, "INVALID_ARGUMENT", /version 2 is not supported/],
    ["an unknown top-level field", '{"events":[],"extra":1}', 400, "INVALID_ARGUMENT", /body\.extra/],
  ])("push refuses %s with %i and stores nothing", async (_what, body, status, code, message) => {
    const s = await serve();
    await s.replica.append({ type: "T", aggregateId: "a", data: 1 });
    const before = await snapshot(s.replica);
    const r = await post(`${s.url}push`, body);
    expect(r.status).toBe(status);
    expect(r.body.error?.code).toBe(code);
    expect(r.body.error?.message).toMatch(message);
    expect(await snapshot(s.replica)).toEqual(before);
  });

  it("push refuses an event with a wrong field type with 400 naming it, and stores none of the batch", async () => {
    const s = await serve();
    const events = await made(3);
    const bad = events.map((e, i) => (i === 2 ? { ...e, clock: { laptop: "three" } } : e));
    const r = await post(`${s.url}push`, JSON.stringify({ events: bad }));
    expect(r.status).toBe(400);
    expect(r.body.error?.message).toContain("events[2].clock");
    expect(await snapshot(s.replica)).toEqual([]);
    const missing = await post(`${s.url}push`, JSON.stringify({ events: [{ ...events[0], id: undefined }] }));
    expect(missing.status).toBe(400);
    expect(missing.body.error?.message).toContain("events[0].id");
  });

  it("an unknown protocol version header is 400", async () => {
    const s = await serve();
    const r = await post(`${s.url}push`, JSON.stringify({ events: await made(1) }), { "x-concord-sync": "9" });
    expect(r.status).toBe(400);
    expect(r.body.error?.message).toMatch(/x-concord-sync/);
    expect(await snapshot(s.replica)).toEqual([]);
    expect((await fetch(`${s.url}pull`, { headers: { "x-concord-sync": "0" } })).status).toBe(400);
  });

  it("an id stored with different content is 409 and the batch is not stored", async () => {
    const s = await serve();
    const events = await made(3);
    await post(`${s.url}push`, JSON.stringify({ events: events.slice(0, 1) }));
    const forged = { ...events[0]!, data: { sku: "forged", qty: 99 } };
    const r = await post(`${s.url}push`, JSON.stringify({ events: [events[1], forged, events[2]] }));
    expect(r.status).toBe(409);
    expect(r.body.error?.message).toMatch(/conflict/);
    expect(await snapshot(s.replica)).toEqual([events[0]!.id]);
  });

  it("a body above maxBodyBytes is 413, by Content-Length and when streamed without one", async () => {
    const s = await serve({ maxBodyBytes: 4096 });
    const big = JSON.stringify({ events: await made(40) });
    expect(big.length).toBeGreaterThan(4096);
    const r = await post(`${s.url}push`, big);
    expect(r.status).toBe(413);
    expect(r.body.error?.code).toBe("TOO_LARGE");
    // Chunked: no Content-Length, the server counts as it reads.
    const chunked = new ReadableStream<Uint8Array>({
      start(c) {
        const bytes = new TextEncoder().encode(big);
        for (let i = 0; i < bytes.length; i += 1000) c.enqueue(bytes.subarray(i, i + 1000));
        c.close();
      },
    });
    const res = await fetch(`${s.url}push`, { method: "POST", body: chunked, duplex: "half", headers: { "content-type": "application/json" } } as RequestInit);
    expect(res.status).toBe(413);
    expect(await snapshot(s.replica)).toEqual([]);
  });

  it("a gzip bomb is 413: inflated bytes count against the limit", async () => {
    const s = await serve({ maxBodyBytes: 64 * 1024 });
    const bomb = gzipSync(Buffer.from(`{"events":[${" ".repeat(20 * 1024 * 1024)}]}`));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const r = await post(`${s.url}push`, bomb, { "content-encoding": "gzip" });
    expect(r.status).toBe(413);
    expect(r.body.error?.message).toMatch(/inflates/);
    const notGzip = await post(`${s.url}push`, "plain", { "content-encoding": "gzip" });
    expect(notGzip.status).toBe(400);
  });

  it("a gzipped push is accepted", async () => {
    const s = await serve();
    const events = await made(10);
    const r = await post(`${s.url}push`, gzipSync(JSON.stringify({ events })), { "content-encoding": "gzip" });
    expect(r.status).toBe(200);
    expect(await snapshot(s.replica)).toEqual(events.map((e) => e.id));
  });

  it("a large pull is gzipped for a client that accepts it, plain otherwise", async () => {
    const s = await serve({ gzipMinBytes: 1024 });
    await s.replica.receive(await made(50));
    const { request } = await import("node:http");
    const raw = (headers: Record<string, string>): Promise<{ encoding: string | undefined; length: number }> =>
      new Promise((resolve, reject) => {
        const rq = request(`${s.url}pull?limit=50`, { headers }, (res) => {
          let n = 0;
          res.on("data", (c: Buffer) => (n += c.length));
          res.on("end", () => resolve({ encoding: res.headers["content-encoding"], length: n }));
        });
        rq.on("error", reject);
        rq.end();
      });
    const zipped = await raw({ "accept-encoding": "gzip" });
    const plain = await raw({});
    expect(zipped.encoding).toBe("gzip");
    expect(plain.encoding).toBeUndefined();
    expect(zipped.length).toBeLessThan(plain.length / 3);
    // fetch inflates it transparently: the transport reads all 50.
    const page = await new HttpTransport(s.url).pull("", 50);
    expect(page.events.length).toBe(50);
  });

  it("bad cursor or limit is 400; unknown route 404; wrong method 405", async () => {
    const s = await serve({ maxBatch: 100 });
    for (const q of ["since=abc", "since=-1", "since=1.5", "limit=0", "limit=x", "limit=101"]) {
      const res = await fetch(`${s.url}pull?${q}`);
      expect(res.status, q).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("INVALID_ARGUMENT");
      expect(body.error.message).toMatch(/since|limit/);
    }
    expect((await fetch(`${s.url}stream?since=zz`)).status).toBe(400);
    const nf = await fetch(`${s.url}nothing`);
    expect(nf.status).toBe(404);
    expect(((await nf.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
    expect((await fetch(`${s.url}push`)).status).toBe(405);
    expect((await fetch(`${s.url}pull`, { method: "POST", body: "{}" })).status).toBe(405);
  });

  it("a push above maxBatch events is 413", async () => {
    const s = await serve({ maxBatch: 5 });
    const r = await post(`${s.url}push`, JSON.stringify({ events: await made(6) }));
    expect(r.status).toBe(413);
    expect(await snapshot(s.replica)).toEqual([]);
  });

  it("serves under a basePath and passes other paths to next() as middleware", async () => {
    const replica = new Replica({ nodeId: "mw", store: new MemoryEventStore() });
    const handler = createSyncHandler(replica, { basePath: "/sync" });
    const server = createServer((req, res) =>
      handler(req, res, () => {
        res.writeHead(200, { "content-type": "text/plain" });
        res.end("app");
      }),
    );
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect(await (await fetch(`${base}/other`)).text()).toBe("app");
    expect(((await (await fetch(`${base}/sync/version`)).json()) as { version: object }).version).toEqual({});
  });

  it("bearer tokens: none is 401, a wrong one 403, the right one passes; the client never shows the token", async () => {
    const s = await serve({ authorize: bearerAuth("s3cret-token") });
    const events = await made(2);
    const none = await post(`${s.url}push`, JSON.stringify({ events }));
    expect(none.status).toBe(401);
    const wrong = await post(`${s.url}push`, JSON.stringify({ events }), { authorization: "Bearer nope" });
    expect(wrong.status).toBe(403);
    expect(await snapshot(s.replica)).toEqual([]);

    const bad = new HttpTransport(s.url, { token: "not-the-token-xyz" });
    const err = await bad.push(events).catch((e: unknown) => e);
    expect(isConcordError(err, "UNAVAILABLE")).toBe(true);
    expect((err as { retryable: boolean }).retryable).toBe(false);
    expect(String((err as Error).message)).toMatch(/403/);
    expect(String((err as Error).message)).not.toContain("not-the-token-xyz");

    const good = new HttpTransport(s.url, { token: "s3cret-token" });
    expect((await good.push(events)).appended).toEqual(events.map((e) => e.id));
    expect(await good.version()).toEqual({ laptop: 2 });
  });

  it("authorize may throw or answer { status, message }", async () => {
    const thrower = await serve({
      authorize: (req) => {
        if (req.headers["x-tenant"] === undefined) throw Object.assign(new Error("tenant header missing"), { status: 403 });
        return req.headers["x-tenant"] === "ok" ? true : { status: 401, message: "unknown tenant" };
      },
    });
    const a = await fetch(`${thrower.url}version`);
    expect(a.status).toBe(403);
    expect(((await a.json()) as { error: { message: string } }).error.message).toBe("tenant header missing");
    const b = await fetch(`${thrower.url}version`, { headers: { "x-tenant": "zz" } });
    expect(b.status).toBe(401);
    expect(((await b.json()) as { error: { message: string } }).error.message).toBe("unknown tenant");
    expect((await fetch(`${thrower.url}version`, { headers: { "x-tenant": "ok" } })).status).toBe(200);
  });

  it("the transport maps statuses to error codes and an unreachable peer to retryable UNAVAILABLE", async () => {
    const s = await serve({ maxBatch: 2 });
    const t = new HttpTransport(s.url);
    const tooMany = await t.push(await made(3)).catch((e: unknown) => e);
    expect(isConcordError(tooMany, "TOO_LARGE")).toBe(true);
    const events = await made(1);
    await t.push(events);
    const clash = await t.push([{ ...events[0]!, data: "other" }]).catch((e: unknown) => e);
    expect(isConcordError(clash, "INVALID_ARGUMENT")).toBe(true);
    expect((clash as Error).message).toMatch(/409.*conflict/);
    const wrongBase = await new HttpTransport(`${s.url}nope/`).version().catch((e: unknown) => e);
    expect(isConcordError(wrongBase, "UNSUPPORTED")).toBe(true);

    const port = (s.server.address() as AddressInfo).port;
    s.server.closeAllConnections();
    await new Promise((r) => s.server.close(r));
    servers.splice(servers.indexOf(s.server), 1);
    const down = await new HttpTransport(`http://127.0.0.1:${port}/`, { token: "tok-abc" }).pull("", 10).catch((e: unknown) => e);
    expect(isConcordError(down, "UNAVAILABLE")).toBe(true);
    expect((down as { retryable: boolean }).retryable).toBe(true);
    expect((down as Error).message).not.toContain("tok-abc");
  });

  it("the stream replays from the cursor, then delivers a new event live with its cursor", async () => {
    const s = await serve({ heartbeatMs: 20 });
    await s.replica.receive(await made(3));
    const t = new HttpTransport(s.url);
    const got: { ids: string[]; cursor: string }[] = [];
    const ac = new AbortController();
    let seen: () => void = () => {};
    const stream = t.stream("1", (events, cursor) => {
      got.push({ ids: events.map((e) => e.id), cursor });
      seen();
    }, ac.signal);
    await new Promise<void>((r) => (seen = r));
    expect(got[0]!.ids.length).toBe(2);
    expect(got[0]!.cursor).toBe("3");
    const live = new Promise<void>((r) => (seen = r));
    const e = await s.replica.append({ type: "Live", aggregateId: "cart-1", data: { at: 1 } });
    await live;
    expect(got[1]).toEqual({ ids: [e.id], cursor: "4" });
    ac.abort();
    await stream;
  });

  it("the raw stream is text/event-stream with ids and heartbeat comments; Last-Event-ID resumes", async () => {
    const s = await serve({ heartbeatMs: 10 });
    await s.replica.receive(await made(2));
    const ac = new AbortController();
    const res = await fetch(`${s.url}stream`, { signal: ac.signal, headers: { "last-event-id": "1" } });
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    let text = "";
    while (!/heartbeat/.test(text) || !/id: 2/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toMatch(/id: 2\nevent: events\ndata: \[/);
    expect(text).not.toMatch(/id: 1\n/);
    ac.abort();
    await reader.cancel().catch(() => {});
  });
});

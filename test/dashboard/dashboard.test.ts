import { describe, expect, it } from "vitest";
import { classify, startDashboard, type Snapshot } from "../../src/dashboard/index.js";
import { isConcordError } from "../../src/index.js";
import { engineNames } from "../helpers/engines.js";
import { useEngine } from "../helpers/clients.js";

/** Reads Server-Sent Events from `url` until `until` accepts a snapshot; bounded by `ms`. */
async function nextSnapshot(url: string, until: (s: Snapshot) => boolean, ms = 10_000): Promise<Snapshot> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    const res = await fetch(url, { signal: ac.signal });
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let i: number;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
        if (!data) continue;
        const snap = JSON.parse(data) as Snapshot;
        if (until(snap)) return snap;
      }
    }
    throw new Error("the event stream ended");
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
}

const find = (s: Snapshot, kind: string, name: string) => s.primitives.find((p) => p.kind === kind && p.name === name);

describe("dashboard key classification", () => {
  it("names the primitive from its key, unescaping its name, and ignores foreign keys", () => {
    expect(classify("lock/orders/00000001")).toEqual({ kind: "lock", name: "orders" });
    expect(classify("map/a%2Fb/k")).toEqual({ kind: "map", name: "a/b" });
    expect(classify("counter/hits")).toEqual({ kind: "counter", name: "hits" });
    expect(classify("unknown/x")).toBeUndefined();
    expect(classify("lock/")).toBeUndefined();
    expect(classify("session")).toBeUndefined();
  });
});

for (const name of engineNames()) {
  describe(`dashboard: ${name}`, () => {
    const { open } = useEngine(name);

    it("shows lock holders, leaders, values and counters, and follows changes live", async () => {
      const c = await open({ id: "dash-owner" });
      const held = await c.lock("orders").acquire();
      const leadership = await c.election("scheduler", { id: "pod-a" }).campaign({ value: "10.0.0.7" });
      await c.value("config").set({ mode: "on" });
      await c.counter("hits").increment(3);
      await c.map("users").put("ann", { age: 3 });
      const viewer = await open();
      const d = await startDashboard(viewer, { refreshMs: 60_000, debounceMs: 20 });
      try {
        const page = await fetch(d.url);
        expect(page.status).toBe(200);
        expect(await page.text()).toContain("EventSource");

        const snap = (await (await fetch(`${d.url}snapshot.json`)).json()) as Snapshot;
        expect(find(snap, "lock", "orders")?.detail).toEqual({ holder: "dash-owner", token: held.token });
        expect(find(snap, "election", "scheduler")?.detail).toMatchObject({ leader: { id: "pod-a", term: leadership.term, value: "10.0.0.7" }, candidates: 1 });
        expect(find(snap, "value", "config")?.detail).toMatchObject({ value: { mode: "on" } });
        expect(find(snap, "counter", "hits")?.detail).toEqual({ value: 3 });
        expect(find(snap, "map", "users")?.detail).toEqual({ size: 1 });
        expect("error" in snap.time).toBe(false);

        // A release and an increment after the stream opened arrive as a new snapshot, without waiting for the 60 s refresh.
        const live = nextSnapshot(`${d.url}events`, (s) => find(s, "counter", "hits")?.detail["value"] === 4);
        await new Promise((r) => setTimeout(r, 200));
        await held.release();
        await c.counter("hits").increment();
        const after = await live;
        // A free lock has no keys left, so it is no longer listed.
        expect(find(after, "lock", "orders")).toBeUndefined();

        const bad = await fetch(`${d.url}snapshot.json`, { method: "POST" });
        expect(bad.status).toBe(405);
        expect((await fetch(`${d.url}nope`)).status).toBe(404);
      } finally {
        await leadership.resign();
        await d.close();
      }
    });
  });
}

describe("dashboard options", () => {
  const { open } = useEngine("memory");
  it("rejects bad options naming them", async () => {
    const c = await open();
    for (const [opts, arg] of [[{ port: -1 }, "port"], [{ refreshMs: 5 }, "refreshMs"], [{ basePath: "x" }, "basePath"]] as const) {
      const err = await startDashboard(c, opts as never).then(() => undefined, (e: unknown) => e);
      expect(isConcordError(err, "INVALID_ARGUMENT")).toBe(true);
      expect(String(err)).toContain(arg);
    }
  });
});

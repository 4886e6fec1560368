import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { until } from "../helpers/wait.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const dir = mkdtempSync(join(tmpdir(), "concord-sync-cli-"));
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill("SIGKILL");
      await new Promise((r) => c.once("exit", r));
    }
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function start(args: string[]): { child: ChildProcess; out: () => string; err: () => string } {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  return { child, out: () => out, err: () => err };
}

async function run(args: string[]): Promise<{ code: number | null; lines: Record<string, unknown>[]; stderr: string }> {
  const p = start(args);
  const code = await new Promise<number | null>((r) => p.child.once("exit", (c) => r(c)));
  const lines = p
    .out()
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, lines, stderr: p.err() };
}

async function serve(db: string, port = 0): Promise<{ child: ChildProcess; url: string }> {
  const p = start(["sync", "serve", "--db", db, "--port", String(port), "--token", "cli-token"]);
  const line = await until(() => (p.out().includes('"listening"') ? p.out().split("\n")[0] : undefined), 60_000, `serve to listen (${p.err()})`);
  return { child: p.child, url: (JSON.parse(line) as { listening: string }).listening };
}

async function stop(child: ChildProcess): Promise<number | null> {
  child.kill("SIGTERM");
  return new Promise((r) => child.once("exit", (c) => r(c)));
}

describe("concord sync serve / client", () => {
  it("two nodes write offline, reconnect and converge through the server", async () => {
    const server = join(dir, "server.db");
    const a = join(dir, "a.db");
    const b = join(dir, "b.db");
    let s = await serve(server);
    const port = new URL(s.url).port;
    const client = (db: string, ...more: string[]): Promise<{ code: number | null; lines: Record<string, unknown>[]; stderr: string }> =>
      run(["sync", "client", "--db", db, "--peer", s.url, "--token", "cli-token", ...more]);

    const first = await client(a, "--append", 'ItemAdded:cart-7:{"sku":"a1","qty":1}');
    expect(first.code).toBe(0);
    expect(first.lines[1]).toMatchObject({ pushed: 1, pulled: 0, errors: [], events: 1 });

    // The server goes away; both nodes keep writing.
    expect(await stop(s.child)).toBe(0);
    const offlineA = await client(a, "--append", 'QtyChanged:cart-7:{"qty":3}');
    expect(offlineA.code).toBe(1);
    expect(String((offlineA.lines[1]!["errors"] as string[])[0])).toMatch(/^UNAVAILABLE: .*unreachable/);
    expect(offlineA.lines[1]).toMatchObject({ events: 2 });
    const offlineB = await client(b, "--append", 'Noted:cart-7:{"note":"gift"}');
    expect(offlineB.code).toBe(1);

    // Back on the same port and file: both sync, A once more to collect B's event.
    s = await serve(server, Number(port));
    const backA = await client(a);
    expect(backA.lines[0], backA.stderr).toMatchObject({ pushed: 1, pulled: 0, errors: [] });
    const backB = await client(b);
    expect(backB.lines[0], backB.stderr).toMatchObject({ pushed: 1, pulled: 2, errors: [] });
    const lastA = await client(a, "--show", "cart-7");
    const lastB = await client(b, "--show", "cart-7");
    expect(lastA.lines[0]).toMatchObject({ pulled: 1, events: 3 });
    expect(lastB.lines[0]).toMatchObject({ pulled: 0, events: 3 });
    // B's event is concurrent with both of A's and written last: last-writer-wins keeps it alone, on both nodes.
    expect(lastA.lines[0]!["state"]).toEqual({ note: "gift" });
    expect(lastB.lines[0]!["state"]).toEqual(lastA.lines[0]!["state"]);
    // The node id stays with its file.
    expect(lastA.lines[0]!["node"]).toBe(first.lines[0]!["node"]);
    await stop(s.child);
  }, 240_000);

  it("client --watch receives another node's event live and prints it", async () => {
    const s = await serve(join(dir, "w-server.db"));
    const w = start(["sync", "client", "--db", join(dir, "w-a.db"), "--peer", s.url, "--token", "cli-token", "--watch", "--interval", "600000"]);
    await until(() => w.child.pid !== undefined, 5000);
    // Give the watcher its first round and stream, then write from another node.
    await new Promise((r) => setTimeout(r, 1500));
    const other = await run(["sync", "client", "--db", join(dir, "w-b.db"), "--peer", s.url, "--token", "cli-token", "--append", "Ping:x:1"]);
    expect(other.code).toBe(0);
    await until(() => w.out().includes('"pulled":1'), 60_000, `the live event (${w.err()})`);
    expect(await stop(w.child)).toBe(0);
    await stop(s.child);
  }, 120_000);

  it("bad usage exits 2 naming the option; a wrong token exits 1 without printing it", async () => {
    const noDb = await run(["sync", "client", "--peer", "http://127.0.0.1:1/"]);
    expect(noDb.code).toBe(2);
    expect(noDb.stderr).toMatch(/--db/);
    const badAppend = await run(["sync", "client", "--db", join(dir, "x.db"), "--peer", "http://127.0.0.1:1/", "--append", "nocolons"]);
    expect(badAppend.code).toBe(2);
    expect(badAppend.stderr).toMatch(/--append.*TYPE:AGGREGATE:JSON/);
    expect((await run(["sync", "dance"])).code).toBe(2);
    const s = await serve(join(dir, "t-server.db"));
    const wrong = await run(["sync", "client", "--db", join(dir, "t.db"), "--peer", s.url, "--token", "guess-123"]);
    expect(wrong.code).toBe(1);
    expect(JSON.stringify(wrong.lines) + wrong.stderr).toMatch(/403/);
    expect(JSON.stringify(wrong.lines) + wrong.stderr).not.toContain("guess-123");
    await stop(s.child);
  }, 120_000);
});

import { spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const dir = mkdtempSync(join(tmpdir(), "concord-cli-test-"));
const STORE = `sqlite:${join(dir, "state.db")}`;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as a real process (`node --import tsx src/cli/main.ts …`) against the temp SQLite file. */
function concord(args: string[], env: NodeJS.ProcessEnv = {}, onSpawn?: (pid: number) => void): Promise<Result> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
      cwd: ROOT,
      env: { ...process.env, CONCORD_STORE: STORE, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    if (onSpawn && child.pid !== undefined) onSpawn(child.pid);
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code, stdout, stderr }));
  });
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("concord CLI", () => {
  it("set then get round-trips JSON values and plain strings", async () => {
    const set = await concord(["set", "cfg", '{"a":[1,2]}']);
    expect(set.code).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ ok: true });
    const get = await concord(["--store", STORE, "get", "cfg"]);
    expect(get.code).toBe(0);
    expect(JSON.parse(get.stdout)).toEqual({ value: { a: [1, 2] }, version: JSON.parse(set.stdout).version });
    expect((await concord(["set", "greeting", "hello world"])).code).toBe(0);
    expect(JSON.parse((await concord(["get", "greeting"])).stdout).value).toBe("hello world");
  });

  it("set --if-version refuses a stale version with exit 1", async () => {
    const first = JSON.parse((await concord(["set", "guarded", "1"])).stdout) as { version: number };
    const stale = await concord(["set", "guarded", "2", "--if-version", String(first.version - 1)]);
    expect(stale.code).toBe(1);
    expect(JSON.parse(stale.stdout)).toEqual({ ok: false, current: { value: 1, version: first.version } });
  });

  it("counter incr adds atomically and prints the new value", async () => {
    expect((await concord(["counter", "hits", "incr"])).stdout.trim()).toBe("1");
    expect((await concord(["counter", "hits", "incr", "5"])).stdout.trim()).toBe("6");
    expect((await concord(["counter", "hits"])).stdout.trim()).toBe("6");
  });

  it("lock runs the command with its fencing token in the environment", async () => {
    const r = await concord(["lock", "job", "--", process.execPath, "-e", "console.log(process.env.CONCORD_FENCING_TOKEN, process.env.CONCORD_LOCK)"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\d+ job\n$/);
    expect(Number(r.stdout.split(" ")[0])).toBeGreaterThan(0);
  });

  it("lock exits with the command's exit status", async () => {
    expect((await concord(["lock", "job", "--", process.execPath, "-e", "process.exit(3)"])).code).toBe(3);
  });

  it("two concurrent lock invocations never overlap and get increasing tokens", async () => {
    const file = join(dir, "markers.log");
    const script = [
      "const fs = require('fs'); const f = process.env.MARKER_FILE;",
      "fs.appendFileSync(f, 'start ' + process.env.CONCORD_FENCING_TOKEN + '\\n');",
      "setTimeout(() => fs.appendFileSync(f, 'end\\n'), Number(process.env.HOLD_MS));",
    ].join(" ");
    const run = (holdMs: number): Promise<Result> =>
      concord(["lock", "shared", "--", process.execPath, "-e", script], { MARKER_FILE: file, HOLD_MS: String(holdMs) });
    // The second starts once the first holds, and the first holds long enough for a CLI to start
    // on a loaded machine, so the second always has to wait (and says so).
    const first = run(5000);
    for (let i = 0; i < 300 && !(existsSync(file) && readFileSync(file, "utf8").includes("start")); i++) await new Promise((r) => setTimeout(r, 50));
    const [a, b] = await Promise.all([first, run(100)]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const lines = readFileSync(file, "utf8").trim().split("\n");
    expect(lines.map((l) => l.split(" ")[0])).toEqual(["start", "end", "start", "end"]);
    const tokens = lines.filter((l) => l.startsWith("start")).map((l) => Number(l.split(" ")[1]));
    expect(tokens[1]).toBeGreaterThan(tokens[0]!);
    expect(a.stderr + b.stderr).toMatch(/waiting for lock shared held by .+ \(token \d+\)/);
  });

  it("SIGINT stops the command, releases the lock and exits 130", async () => {
    const mark = join(dir, "child-started");
    const child = "require('fs').writeFileSync(process.env.MARK, 'up'); setInterval(() => {}, 1000)";
    let pid = 0;
    const running = concord(["lock", "interrupted", "--", process.execPath, "-e", child], { MARK: mark }, (p) => (pid = p));
    for (let i = 0; i < 200 && !existsSync(mark); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(mark)).toBe(true);
    process.kill(pid, "SIGINT");
    const r = await running;
    expect(r.code).toBe(130);
    const next = await concord(["lock", "interrupted", "--timeout", "2000", "--", process.execPath, "-e", "console.log('free')"]);
    expect(next.stdout).toBe("free\n");
  });

  it("elect runs the command as leader with its term in the environment", async () => {
    const r = await concord(["elect", "leaders", "--id", "node-a", "--", process.execPath, "-e", "console.log(process.env.CONCORD_TERM); process.exit(4)"]);
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/^\d+\n$/);
    expect(r.stderr).toMatch(/elected leader of leaders \(term \d+\)/);
    expect(JSON.parse((await concord(["leader", "leaders"])).stdout)).toBeNull();
  });

  it("bad input exits 2 with a message naming the argument", async () => {
    const empty = await concord(["get", ""]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/^concord: INVALID_ARGUMENT: NAME: must not be empty/);
    const ttl = await concord(["--ttl", "soon", "counter", "hits"]);
    expect(ttl.code).toBe(2);
    expect(ttl.stderr).toMatch(/^concord: INVALID_ARGUMENT: --ttl: .*"soon"/);
    const low = await concord(["--ttl", "10", "counter", "hits"]);
    expect(low.code).toBe(2);
    expect(low.stderr).toMatch(/--ttl: 10 ms is below the minimum/);
    const unknown = await concord(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
    const noCmd = await concord(["lock", "x"]);
    expect(noCmd.code).toBe(2);
    expect(noCmd.stderr).toMatch(/CMD/);
  });

  it("never prints credentials from the store URL", async () => {
    const r = await concord(["--store", "nosuch://alice:hunter2@db.example:5/x?password=hunter3", "get", "x"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^concord: INVALID_ARGUMENT: /);
    expect(r.stderr + r.stdout).not.toMatch(/hunter|alice/);
    const demo = await concord(["demo", "--store", "redis://alice:hunter2@localhost:6379/0", "--duration", "3"]);
    expect(demo.code).toBe(1);
    expect(demo.stdout).toMatch(/redis:\/\/\*\*\*@localhost:6379/);
    expect(demo.stderr + demo.stdout).not.toMatch(/hunter|alice/);
  });

  it("prints usage for --help and help COMMAND", async () => {
    const main = await concord(["--help"]);
    expect(main.code).toBe(0);
    expect(main.stdout).toMatch(/Usage: concord/);
    expect(main.stdout).not.toMatch(/demo-worker/);
    const lock = await concord(["help", "lock"]);
    expect(lock.code).toBe(0);
    expect(lock.stdout).toMatch(/concord lock NAME/);
  });

  it("dashboard serves the namespace live until SIGINT", async () => {
    await concord(["counter", "dash-hits", "incr", "7"]);
    const port = await new Promise<number>((res) => {
      const srv = createServer().listen(0, "127.0.0.1", () => {
        const p = (srv.address() as AddressInfo).port;
        srv.close(() => res(p));
      });
    });
    let pid = 0;
    const running = concord(["dashboard", "--port", String(port)], {}, (p) => (pid = p));
    let snap: { primitives: { kind: string; name: string; detail: Record<string, unknown> }[] } | undefined;
    for (let i = 0; i < 200 && !snap; i++) {
      try {
        snap = (await (await fetch(`http://127.0.0.1:${port}/snapshot.json`)).json()) as typeof snap;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect(snap?.primitives.find((p) => p.kind === "counter" && p.name === "dash-hits")?.detail).toEqual({ value: 7 });
    process.kill(pid, "SIGINT");
    const r = await running;
    expect(r.code).toBe(130);
    expect(r.stderr).toContain(`http://127.0.0.1:${port}/`);
  });

  it("demo runs its workers, fails the leader over, and ends by itself", async () => {
    const r = await concord(["demo", "--workers", "3", "--duration", "8"], { CONCORD_STORE: "" });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/>>> killing the leader worker-\d/);
    expect(r.stdout).toMatch(/failover: worker-\d \(term \d+\) -> worker-\d \(term \d+\) in \d+ ms/);
    expect(r.stdout).toMatch(/tokens strictly increasing: yes/);
  }, 40_000);
});

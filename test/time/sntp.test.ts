import { type ChildProcess, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SntpClock } from "../../src/index.js";

async function freeUdpPort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("SntpClock against a real chronyd on loopback", () => {
  let chronyd: ChildProcess;
  let port: number;
  let dir: string;

  beforeAll(async () => {
    port = await freeUdpPort();
    dir = mkdtempSync(join(tmpdir(), "concord-chrony-"));
    const conf = join(dir, "chrony.conf");
    writeFileSync(conf, [`port ${port}`, "bindaddress 127.0.0.1", "local stratum 8", "allow 127.0.0.1", `driftfile ${dir}/drift`, `pidfile ${dir}/chronyd.pid`, "cmdport 0", ""].join("\n"));
    // -x: serve time without touching this machine's clock; -d: stay in the foreground so we can stop it
    chronyd = spawn("chronyd", ["-f", conf, "-x", "-d", "-U"], { stdio: "ignore" });
    chronyd.on("error", (e) => {
      throw new Error(`engine chrony: cannot start chronyd (${e.message}); run scripts/engines.sh chrony`);
    });
    const clock = new SntpClock({ host: "127.0.0.1", port, timeoutMs: 300 });
    for (let i = 0; i < 50; i++) {
      try {
        await clock.now();
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error(`engine chrony: chronyd did not answer on 127.0.0.1:${port}`);
  });
  afterAll(() => {
    chronyd?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads the server's time with a small offset and delay on loopback", async () => {
    const t = await new SntpClock({ host: "127.0.0.1", port }).now();
    expect(Math.abs(t.offsetMs)).toBeLessThan(50); // same host: the same clock
    expect(t.delayMs).toBeGreaterThanOrEqual(0);
    expect(t.delayMs).toBeLessThan(100);
    expect(Math.abs(t.ms - Date.now())).toBeLessThan(100);
  });
});

describe("SntpClock failures", () => {
  it("rejects UNAVAILABLE when nobody answers", async () => {
    const port = await freeUdpPort();
    await expect(new SntpClock({ host: "127.0.0.1", port, timeoutMs: 200 }).now()).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });

  it("rejects UNAVAILABLE naming the kiss code on a kiss-of-death", async () => {
    // chrony sends a kiss only when rate limiting, which a test cannot trigger reliably: answer like one.
    const server = createSocket("udp4");
    await new Promise<void>((r) => server.bind(0, "127.0.0.1", r));
    server.on("message", (msg, rinfo) => {
      const reply = Buffer.alloc(48);
      reply[0] = (0 << 6) | (4 << 3) | 4;
      reply[1] = 0; // stratum 0: kiss-of-death
      reply.write("RATE", 12, "ascii");
      msg.copy(reply, 24, 40, 48);
      server.send(reply, rinfo.port, rinfo.address);
    });
    try {
      await expect(new SntpClock({ host: "127.0.0.1", port: server.address().port, timeoutMs: 1000 }).now()).rejects.toMatchObject({
        code: "UNAVAILABLE",
        message: expect.stringContaining("RATE"),
      });
    } finally {
      server.close();
    }
  });

  it("rejects bad options with INVALID_ARGUMENT", () => {
    expect(() => new SntpClock({ host: "" })).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => new SntpClock({ host: "x", port: 70000 })).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
  });
});

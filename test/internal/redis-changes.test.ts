import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { keyspaceKeys } from "../../src/drivers/redis/keys.js";
import { decodeChanges } from "../../src/drivers/redis/tail.js";
import { engine, engineNames } from "../helpers/engines.js";

const change = (rev: number, type: "p" | "d", key: string, lease = "", value = ""): Buffer =>
  Buffer.concat([Buffer.from(`${rev} ${type} ${type === "p" ? rev : ""} ${Buffer.byteLength(key)} ${Buffer.byteLength(lease)} ${Buffer.byteLength(value)}\n`), Buffer.from(key), Buffer.from(lease), Buffer.from(value)]);

describe("redis published changes", () => {
  it("one message carries several changes, values with newlines and spaces kept byte for byte", () => {
    const msg = Buffer.concat([change(7, "p", "a b", "12", "x\ny z"), change(8, "d", "é"), change(9, "p", "k", "", "")]);
    expect(decodeChanges(msg)).toEqual([
      { type: "put", key: "a b", revision: 7, entry: { key: "a b", value: new Uint8Array(Buffer.from("x\ny z")), createRevision: 7, modRevision: 7, lease: "12" } },
      { type: "delete", key: "é", revision: 8 },
      { type: "put", key: "k", revision: 9, entry: { key: "k", value: new Uint8Array(), createRevision: 9, modRevision: 9, lease: undefined } },
    ]);
  });

  it("anything else is not read as changes, and never loops: negative or non-digit lengths, truncation, unknown types", () => {
    for (const bad of ["1 d  -100 0 0\nab", "1 d  1.5 0 0\nab", "1 d  +1 0 0\na", "1 p 1 5 0 9\nshort", "1 x  1 0 0\na", "no newline", "1 d 2 3\nabc"]) {
      expect(decodeChanges(Buffer.from(bad))).toBeUndefined();
    }
  });
});

describe.runIf(engineNames().includes("redis"))("redis batch that fails half-way", () => {
  it("still counts and publishes what it wrote, so later writes and watches go on", async () => {
    const eng = engine("redis");
    const driver = await eng.open();
    const raw = new Redis(process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379");
    try {
      const keyspace = new URL(eng.url).searchParams.get("keyspace")!;
      // A foreign key of the wrong type where the second op's lease keeps its keys: its SADD fails
      // after the first op and the start of the second were written (scripts do not roll back).
      const { id: lease } = await driver.grantLease(60_000);
      await raw.set(`${keyspaceKeys(keyspace).base}:lease:${lease}`, "not a set");
      const seen: number[] = [];
      const ac = new AbortController();
      const watching = (async () => {
        for await (const ev of driver.watch("", { signal: ac.signal })) {
          seen.push(ev.revision);
          if (ev.key === "c") return;
        }
      })();
      await new Promise((r) => setTimeout(r, 100));
      const before = await driver.revision();
      await expect(driver.batch!([{ type: "put", key: "a", value: new Uint8Array([1]) }, { type: "put", key: "b", value: new Uint8Array([2]), lease }])).rejects.toThrow();
      expect(await driver.revision()).toBe(before + 2); // a and the half-written b: the log has both
      const c = await driver.put("c", new Uint8Array([3])); // the next write is not stuck behind the log
      expect(c.ok && c.entry.modRevision).toBe(before + 3);
      await watching;
      ac.abort();
      expect(seen).toEqual([before + 1, before + 2, before + 3]);
    } finally {
      raw.disconnect();
      await driver.close();
      eng.cleanup();
    }
  });
});

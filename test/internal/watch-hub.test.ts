import { describe, expect, it } from "vitest";
import type { Driver } from "../../src/driver/types.js";
import { createMemoryDriver } from "../../src/drivers/memory/index.js";
import { ConcordError, isConcordError } from "../../src/errors.js";
import { systemClock } from "../../src/internal/clock.js";
import { WatchHub } from "../../src/internal/watch-hub.js";

describe("WatchHub", () => {
  it("a first subscribe that fails (engine away) does not fail every later one", async () => {
    const inner = await createMemoryDriver({ name: `hub-${Math.random()}` });
    let failures = 1;
    const driver = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === "revision") {
          return async () => {
            if (failures-- > 0) throw new ConcordError("UNAVAILABLE", "engine away");
            return target.revision();
          };
        }
        const v: unknown = Reflect.get(target, prop, receiver);
        return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as Driver;
    const hub = new WatchHub(driver, "ns/", systemClock);
    const seen: string[] = [];
    const err = await hub.subscribe("ns/a", (ev) => ev && seen.push(ev.key)).catch((e: unknown) => e);
    expect(isConcordError(err, "UNAVAILABLE")).toBe(true);
    const unsubscribe = await hub.subscribe("ns/a", (ev) => ev && seen.push(ev.key));
    await driver.put("ns/a1", new Uint8Array([1]));
    for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    // Only the listener that subscribed successfully hears the change; the failed one was dropped.
    expect(seen).toEqual(["ns/a1"]);
    unsubscribe();
    hub.close();
    await driver.close();
  });
});

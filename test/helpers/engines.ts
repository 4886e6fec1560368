import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Driver } from "../../src/driver/types.js";
import { createMemoryDriver } from "../../src/drivers/memory/index.js";
import { createSqliteDriver } from "../../src/drivers/sqlite/index.js";
import type { Clock } from "../../src/internal/clock.js";

/**
 * One engine under test. `open()` makes a new client of the same keyspace (a second client is a
 * second process as far as the engine can tell); `url` is what `connect()` takes for it.
 */
export interface EngineUnderTest {
  readonly name: string;
  readonly url: string;
  open(clock?: Clock): Promise<Driver>;
  cleanup(): void;
}

type Factory = () => EngineUnderTest;

// Engines that need a server have their harness in a file of their own.
import { etcdEngine } from "./engine-etcd.js";
import { postgresEngine } from "./engine-postgres.js";
import { redisEngine } from "./engine-redis.js";

const FACTORIES: Record<string, Factory> = {
  memory: () => {
    const name = `t-${randomUUID()}`;
    return {
      name: "memory",
      url: `memory:${name}`,
      open: async (clock) => createMemoryDriver({ name, ...(clock ? { clock } : {}), historyLimit: 1_000_000 }),
      cleanup: () => {},
    };
  },
  sqlite: () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-test-"));
    const path = join(dir, "state.db");
    return {
      name: "sqlite",
      url: `sqlite:${path}`,
      open: async (clock) => createSqliteDriver({ path, ...(clock ? { clock } : {}), historyLimit: 1_000_000 }),
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
  },
  redis: redisEngine,
  postgres: postgresEngine,
  etcd: etcdEngine,
};

/** The engines to run, from `ENGINES=memory,sqlite`; all known ones by default. An unknown name fails loudly. */
export function engineNames(): string[] {
  const wanted = process.env["ENGINES"]?.split(",").map((s) => s.trim()).filter(Boolean) ?? Object.keys(FACTORIES);
  for (const w of wanted) {
    if (!(w in FACTORIES)) throw new Error(`ENGINES names ${w}, which has no test harness (known: ${Object.keys(FACTORIES).join(", ")})`);
  }
  return wanted;
}

export function engine(name: string): EngineUnderTest {
  return FACTORIES[name]!();
}

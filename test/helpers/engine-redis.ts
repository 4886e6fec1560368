import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { createRedisDriver } from "../../src/drivers/redis/index.js";
import { keyspaceKeys } from "../../src/drivers/redis/keys.js";
import type { EngineUnderTest } from "./engines.js";

/** The server under test: REDIS_URL, else the local default. */
const SERVER = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379";

function address(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || "6379"}`;
}

/** Deletes every key of a keyspace with SCAN and UNLINK (never KEYS, which stalls the server). */
async function dropKeyspace(keyspace: string): Promise<void> {
  const client = new Redis(SERVER, { lazyConnect: true, maxRetriesPerRequest: 1, connectionName: "concord-test-cleanup" });
  client.on("error", () => undefined); // a failure to clean up must not fail or clutter the run
  try {
    await client.connect();
    const stream = client.scanStream({ match: keyspaceKeys(keyspace).pattern, count: 1000 });
    for await (const batch of stream) {
      const keys = batch as string[];
      if (keys.length > 0) await client.unlink(...keys);
    }
  } finally {
    client.disconnect();
  }
}

/**
 * Redis under test: each call is a keyspace of its own (`?keyspace=t-<uuid>`) on one server, so
 * tests never see each other's keys. `open(clock)` lends the test clock to judge leases, as the
 * embedded engines do, so the conformance suite's lease tests move time instead of sleeping.
 */
export function redisEngine(): EngineUnderTest {
  const keyspace = `t-${randomUUID()}`;
  const url = `${SERVER}${SERVER.includes("?") ? "&" : "?"}keyspace=${keyspace}`;
  return {
    name: "redis",
    url,
    open: async (clock) => {
      try {
        return await createRedisDriver({ url, historyLimit: 1_000_000, ...(clock ? { clock } : {}) });
      } catch (e) {
        throw new Error(
          `engine redis: cannot reach the server at ${address(SERVER)} (${(e as Error).message}); start redis-server or set REDIS_URL`,
          { cause: e },
        );
      }
    },
    // In the background: the test runner need not wait for the server to forget a finished test.
    cleanup: () => {
      void dropKeyspace(keyspace).catch(() => undefined);
    },
  };
}

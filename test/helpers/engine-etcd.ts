import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import type { Etcd3, IOptions } from "etcd3";
import { afterAll } from "vitest";
import type { Driver } from "../../src/driver/types.js";
import { createEtcdDriverFromUrl } from "../../src/drivers/etcd/index.js";
import { isConcordError } from "../../src/errors.js";
import type { EngineUnderTest } from "./engines.js";

/** The loopback cluster of `bash scripts/engines.sh etcd`; ETCD_HOSTS points elsewhere. */
const HOSTS = process.env["ETCD_HOSTS"] ?? "127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379";

const { Etcd3: Client } = createRequire(import.meta.url)("etcd3") as { Etcd3: new (o: IOptions) => Etcd3 };

/** Deletions of finished tests' keyspaces, which cleanup() starts and does not wait for. */
const pending = new Set<Promise<void>>();

// The last test's deletion would otherwise race the worker's exit, leaving its keyspace behind: the
// file waits for them at its end. (Imported while a test file is collected, so the hook is that file's.)
afterAll(() => Promise.all(pending));

function deleteKeyspace(keyspace: string): void {
  const client = new Client({ hosts: HOSTS.split(",") });
  const p: Promise<void> = client
    .delete()
    .prefix(`${keyspace}/`)
    .then(
      () => undefined,
      (e: unknown) => {
      // A leftover keyspace is harmless (its name is unique); say so and move on.
        console.warn(`engine etcd: could not delete test keyspace ${keyspace}: ${(e as Error).message}`);
      },
    )
    .finally(() => {
      client.close();
      pending.delete(p);
    });
  pending.add(p);
}

/**
 * The etcd engine under test: each call is a fresh keyspace `t-<uuid>` on the shared cluster, so
 * tests never see each other's keys. `open()` ignores the clock (etcd judges leases by its own)
 * and fails naming the engine and the endpoints if the cluster does not answer.
 */
export function etcdEngine(): EngineUnderTest {
  const keyspace = `t-${randomUUID()}`;
  const url = `etcd://${HOSTS}?keyspace=${keyspace}`;
  return {
    name: "etcd",
    url,
    open: async (): Promise<Driver> => {
      try {
        return await createEtcdDriverFromUrl(url);
      } catch (e) {
        if (!isConcordError(e, "UNAVAILABLE")) throw e;
        throw new Error(`engine etcd: the cluster at ${HOSTS} does not answer (start it with: bash scripts/engines.sh etcd): ${e.message}`, {
          cause: e,
        });
      }
    },
    cleanup: () => deleteKeyspace(keyspace),
  };
}

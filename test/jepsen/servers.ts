/**
 * The private engine servers the nemesis may crash, over test/helpers/private-engines.ts: never the
 * shared ones of scripts/engines.sh. One shape for the harness: where clients connect, and a crash
 * with a restart after some downtime.
 */
import { PrivateEtcd, PrivatePostgres, PrivateRedis } from "../helpers/private-engines.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface PrivateServer {
  /** Client ports, member 0 first; the nemesis' proxy sits in front of the first. */
  ports: number[];
  /** Crashes the server (for etcd: member `i` of three) and starts it again after `downMs`. */
  restart(downMs: number, i?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Redis with an fsync-always append-only file, so a kill -9 and restart keeps every acknowledged write. */
export async function privateRedis(): Promise<PrivateServer> {
  const r = await PrivateRedis.start({ appendfsync: "always" });
  return {
    ports: [r.port],
    async restart(downMs) {
      await r.kill();
      await sleep(downMs);
      await r.start();
    },
    stop: () => r.close(),
  };
}

/** A PostgreSQL cluster of its own, crashed with SIGKILL of the postmaster and recovered from the WAL. */
export async function privatePostgres(): Promise<PrivateServer> {
  const pg = await PrivatePostgres.start();
  return {
    ports: [pg.port],
    async restart(downMs) {
      await pg.kill();
      await sleep(downMs);
      await pg.start();
    },
    stop: () => pg.close(),
  };
}

/** Three etcd members of its own; a restart SIGKILLs one member and brings it back from its data. */
export async function privateEtcd(): Promise<PrivateServer> {
  const e = await PrivateEtcd.start({ members: 3 });
  return {
    ports: e.endpoints.map((a) => Number(a.split(":")[1])),
    async restart(downMs, i = 0) {
      await e.kill(i);
      await sleep(downMs);
      await e.restartMember(i);
    },
    stop: () => e.close(),
  };
}

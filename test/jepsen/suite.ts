import { afterAll, describe, expect, it } from "vitest";
import { type EngineName, runOnce, Servers } from "./harness.js";
import { PRIMITIVES } from "./history.js";
import { engineNames } from "../helpers/engines.js";

/** The seed of the bounded runs: fixed, so a failure replays; JEPSEN_SEED picks another. */
const BASE_SEED = Number(process.env["JEPSEN_SEED"] ?? 4242);

/**
 * How long the clients run: on the engines whose writes wait for a disk flush or a raft round, 1.5 s
 * under load (two faults, one of them maybe a restart) can end with no operation acknowledged.
 */
const DURATION_MS: Partial<Record<EngineName, number>> = { postgres: 3000, etcd: 3000 };

/**
 * A bounded, seeded Jepsen run of every primitive on `engine` (3 clients, 1.5–3 s, 2 faults each),
 * against private servers the nemesis may restart. Not declared when ENGINES leaves the engine out.
 */
export function jepsenSuite(engine: EngineName, offset: number): void {
  if (!engineNames().includes(engine)) return; // not declared at all, like every engine loop: ENGINES narrows the run
  describe(`jepsen: ${engine} under faults`, () => {
    const servers = new Servers();
    afterAll(() => servers.stop(), 60_000);
    PRIMITIVES.forEach((primitive, i) => {
      const seed = BASE_SEED + offset * 10 + i;
      it(`${primitive}: a history of 3 clients with 2 faults passes its checker (seed ${seed})`, async () => {
        const r = await runOnce({ engine, primitive, seed, clients: 3, durationMs: DURATION_MS[engine] ?? 1500, faults: 2, paceMs: 30, servers });
        const replay = `replay: npm run jepsen -- --engine ${engine} --primitive ${primitive} --seed ${seed} --minutes ${(DURATION_MS[engine] ?? 1500) / 60_000}`;
        expect(r.verdict.anomalies, replay).toEqual([]);
        expect(r.counts.ok, replay).toBeGreaterThan(0);
        expect(r.history.faults).toHaveLength(2);
      }, 120_000);
    });
  });
}

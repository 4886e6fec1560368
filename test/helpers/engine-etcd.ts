import type { EngineUnderTest } from "./engines.js";

/** Placeholder until the etcd driver lands: fails loudly, naming the engine. */
export function etcdEngine(): EngineUnderTest {
  throw new Error("engine etcd: no driver yet");
}

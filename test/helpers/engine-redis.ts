import type { EngineUnderTest } from "./engines.js";

/** Placeholder until the redis driver lands: fails loudly, naming the engine. */
export function redisEngine(): EngineUnderTest {
  throw new Error("engine redis: no driver yet");
}

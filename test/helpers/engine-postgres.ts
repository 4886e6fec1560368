import type { EngineUnderTest } from "./engines.js";

/** Placeholder until the postgres driver lands: fails loudly, naming the engine. */
export function postgresEngine(): EngineUnderTest {
  throw new Error("engine postgres: no driver yet");
}

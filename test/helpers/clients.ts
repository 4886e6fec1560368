import { afterEach, beforeEach } from "vitest";
import { type Concord, type ConcordOptions, connect } from "../../src/index.js";
import { engine, type EngineUnderTest } from "./engines.js";

/**
 * Per-test engine and client factory: `open()` connects a new client (its own session) to the
 * test's keyspace; everything is closed after the test.
 */
export function useEngine(name: string): { eng: () => EngineUnderTest; open: (opts?: ConcordOptions) => Promise<Concord> } {
  let eng: EngineUnderTest;
  let open: Concord[] = [];
  beforeEach(() => {
    eng = engine(name);
    open = [];
  });
  afterEach(async () => {
    await Promise.all(open.map((c) => c.close()));
    eng.cleanup();
  });
  return {
    eng: () => eng,
    open: async (opts = {}) => {
      const c = await connect(eng.url, { ttlMs: 2000, ...opts });
      open.push(c);
      return c;
    },
  };
}

import { describe, expect, it } from "vitest";
import { type Clock, Concord, openDriver, systemClock } from "../../src/index.js";
import { engineNames } from "../helpers/engines.js";
import { useEngine } from "../helpers/clients.js";

/** A local clock that is `skewMs` off, as a badly synchronised host's would be. */
const skewed = (skewMs: number): Clock => ({ ...systemClock, now: () => Date.now() + skewMs });

for (const name of engineNames()) {
  describe(`cluster time: ${name}`, () => {
    const { open, eng } = useEngine(name);

    it("two clients agree within their reported uncertainty even when one's clock is skewed", async () => {
      const a = await open();
      // only this client's clock is off; the engine keeps its own
      await using b = new Concord(await openDriver(eng().url), { clock: skewed(7_000) });
      for (let i = 0; i < 3; i++) {
        const [ta, tb] = await Promise.all([a.time.now(), b.time.now()]);
        // both readings are taken within a few ms of each other; allow that plus both uncertainties
        expect(Math.abs(ta.ms - tb.ms)).toBeLessThan(ta.uncertaintyMs + tb.uncertaintyMs + 50);
        expect(ta.uncertaintyMs).toBeGreaterThan(0);
      }
      const tb = await b.time.now();
      expect(Math.abs(tb.ms - Date.now())).toBeLessThan(1_000 + tb.uncertaintyMs); // the skew is gone
    });

    it("rejects a bad sample count", async () => {
      const a = await open();
      await expect(a.time.now({ samples: 0 })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    });
  });
}

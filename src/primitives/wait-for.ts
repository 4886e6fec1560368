import { callSignal, type CallOptions, type Context } from "../context.js";
import { abortedError } from "../errors.js";
import { Notifier } from "../internal/deferred.js";

/**
 * Waits until `check()` is true, re-checking on every change under `prefix` (subscribed before the
 * first check, so no change is missed). Rejects with `TIMEOUT` / `ABORTED` like any wait.
 */
export async function waitFor(ctx: Context, prefix: string, check: (signal: AbortSignal) => Promise<boolean>, opts: CallOptions): Promise<void> {
  const { signal, done } = callSignal(opts, ctx.closed);
  const wake = new Notifier();
  let unsubscribe: (() => void) | undefined;
  try {
    unsubscribe = await ctx.hub.subscribe(prefix, () => wake.notify());
    for (;;) {
      const seen = wake.seq;
      if (await check(signal)) return;
      await wake.wait(seen, signal);
    }
  } catch (e) {
    if (signal.aborted) throw abortedError(signal);
    throw e;
  } finally {
    unsubscribe?.();
    done();
  }
}

import { untilAborted } from "../../internal/abort.js";

/**
 * Waits `ms` before a retry. The timer is ref'ed on purpose: a caller awaiting a read or iterating a
 * watch keeps the process alive across a reconnect, as the open connection did before it.
 */
export function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return untilAborted(new Promise<void>((resolve) => setTimeout(resolve, ms)), signal);
}

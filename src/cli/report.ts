import { isConcordError } from "../errors.js";
import { redact } from "./mask-url.js";

/** Exit status for a usage error or an invalid argument. */
export const EXIT_USAGE = 2;
/** Exit status for any other failure. */
export const EXIT_FAILURE = 1;

/**
 * Prints a failure as `concord: CODE: message` (or `concord: message` for a non-Concord error)
 * with any secret of `storeUrl` removed, and returns the exit status: 2 for `INVALID_ARGUMENT`, else 1.
 */
export function reportError(e: unknown, storeUrl: string | undefined): number {
  if (isConcordError(e)) {
    process.stderr.write(`concord: ${e.code}: ${redact(e.message, storeUrl)}\n`);
    return e.code === "INVALID_ARGUMENT" ? EXIT_USAGE : EXIT_FAILURE;
  }
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`concord: ${redact(message, storeUrl)}\n`);
  if (process.env["CONCORD_DEBUG"] && e instanceof Error && e.stack) process.stderr.write(`${redact(e.stack, storeUrl)}\n`);
  return EXIT_FAILURE;
}

import { NETWORK_ERROR_CODES, TLS_ERROR_CODES } from "../../driver/network-errors.js";
import { ConcordError, isConcordError } from "../../errors.js";

const ENGINE = "postgres";


// SQLSTATEs of a server that is going away, starting up, overloaded, or undid our transaction to
// break a conflict: the same call may succeed a moment later.
const TRANSIENT_CODES: ReadonlySet<string> = new Set(["57P01", "57P02", "57P03", "55P03", "57014", "40001", "40P01"]);
const TRANSIENT_CLASSES: ReadonlySet<string> = new Set(["08", "53"]);

// The connection settings or the installed schema are wrong: retrying will not help.
const SETUP_CODES: ReadonlySet<string> = new Set(["3D000", "42501"]);
const MISSING_SCHEMA_CODES: ReadonlySet<string> = new Set(["3F000", "42P01", "42883"]);

/** The SQLSTATE or Node error code of `e`, if it has one. */
export function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function reason(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Turns an error of pg (or of the socket under it) into a `ConcordError`, judged by its code, never
 * its text. `where` is host:port, never the URL, so no password reaches a message. Errors without a
 * code (pg's "connection terminated unexpectedly", a pool that is ending) are `UNAVAILABLE`.
 */
export function fromPgError(e: unknown, where: string, doing = "request failed"): ConcordError {
  if (isConcordError(e)) return e;
  const code = errorCode(e);
  const opts = (retryable: boolean) => ({ cause: e, engine: ENGINE, retryable });
  const at = `postgres at ${where}`;
  if (code === undefined || NETWORK_ERROR_CODES.has(code)) {
    return new ConcordError("UNAVAILABLE", `${at}: ${doing}: ${reason(e)}; is the server running and reachable?`, opts(true));
  }
  if (TLS_ERROR_CODES.has(code)) {
    return new ConcordError("UNAVAILABLE", `${at}: the server's TLS certificate was refused (${code}); name its CA with sslrootcert=PATH, or use sslmode=require`, opts(false));
  }
  if (TRANSIENT_CODES.has(code) || TRANSIENT_CLASSES.has(code.slice(0, 2))) {
    return new ConcordError("UNAVAILABLE", `${at}: ${doing} (${code}): ${reason(e)}; retry shortly`, opts(true));
  }
  if (code.startsWith("28") || SETUP_CODES.has(code)) {
    return new ConcordError("UNAVAILABLE", `${at}: ${doing} (${code}): ${reason(e)}; check the user, password and database of the URL`, opts(false));
  }
  if (MISSING_SCHEMA_CODES.has(code)) {
    return new ConcordError("UNAVAILABLE", `${at}: ${doing} (${code}): ${reason(e)}; was the concord schema dropped? reconnect to re-create it`, opts(false));
  }
  if (code === "54000") {
    // The one indexed value we write is the key, and a btree entry holds at most ~2,700 bytes.
    return new ConcordError("INVALID_ARGUMENT", `key: too long for postgres, which indexes at most about 2,700 bytes (${reason(e)})`, opts(false));
  }
  if (code.startsWith("22")) {
    return new ConcordError("INVALID_ARGUMENT", `${at}: the server refused the data (${code}): ${reason(e)}`, opts(false));
  }
  return new ConcordError("UNAVAILABLE", `${at}: ${doing} (${code}): ${reason(e)}`, opts(false));
}

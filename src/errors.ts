/** Stable error codes of every Concord failure (DESIGN §4). */
export const ErrorCode = {
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  TIMEOUT: "TIMEOUT",
  ABORTED: "ABORTED",
  LOCK_LOST: "LOCK_LOST",
  NOT_HELD: "NOT_HELD",
  COMPACTED: "COMPACTED",
  UNAVAILABLE: "UNAVAILABLE",
  UNSUPPORTED: "UNSUPPORTED",
  CLOSED: "CLOSED",
  TOO_LARGE: "TOO_LARGE",
  CORRUPT: "CORRUPT",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const RETRYABLE: ReadonlySet<ErrorCode> = new Set(["TIMEOUT", "UNAVAILABLE", "COMPACTED"]);

export interface ConcordErrorOptions {
  cause?: unknown;
  engine?: string;
  retryable?: boolean;
}

/**
 * The one error class Concord throws. `code` is stable; `message` is for people.
 * An abort is a `ConcordError` with code `ABORTED` and `name` `AbortError`, like Node's own APIs.
 */
export class ConcordError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly engine: string | undefined;
  /** Marks the object for {@link isConcordError} even across two installed copies of the package. */
  readonly isConcordError = true;

  constructor(code: ErrorCode, message: string, opts: ConcordErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.name = code === "ABORTED" ? "AbortError" : "ConcordError";
    this.retryable = opts.retryable ?? RETRYABLE.has(code);
    this.engine = opts.engine;
  }
}

/** Structural check, so two copies of Concord in one process still agree. */
export function isConcordError(e: unknown, code?: ErrorCode): e is ConcordError {
  if (typeof e !== "object" || e === null) return false;
  const o = e as { isConcordError?: unknown; code?: unknown };
  return o.isConcordError === true && (code === undefined || o.code === code);
}

export function invalid(argument: string, problem: string): ConcordError {
  return new ConcordError("INVALID_ARGUMENT", `${argument}: ${problem}`);
}

export function abortedError(signal: AbortSignal): ConcordError {
  const reason: unknown = signal.reason;
  if (isConcordError(reason) && (reason.code === "TIMEOUT" || reason.code === "ABORTED" || reason.code === "CLOSED")) return reason;
  if (reason instanceof DOMException && reason.name === "TimeoutError") {
    return new ConcordError("TIMEOUT", "the operation timed out", { cause: reason });
  }
  return new ConcordError("ABORTED", "the operation was aborted", { cause: reason });
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError(signal);
}

export function closedError(what: string): ConcordError {
  return new ConcordError("CLOSED", `${what} is closed; create a new one`);
}

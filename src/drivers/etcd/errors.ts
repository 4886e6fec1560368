import { NETWORK_ERROR_CODES } from "../../driver/network-errors.js";
import { ConcordError, isConcordError } from "../../errors.js";

/** gRPC status codes etcd answers with (grpc.github.io/grpc/core/md_doc_statuscodes.html). */
export const Status = {
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

// etcd3 rethrows a unary call's gRPC error as one class per status code and drops the numeric code,
// so the class is the status. Matched by name, not instanceof: a client passed in by the user may
// come from another installed copy of etcd3. EtcdLeaseInvalidError is etcd's NOT_FOUND for a lease.
const CLASS_STATUS: Readonly<Record<string, number>> = {
  GRPCCancelledError: Status.CANCELLED,
  GRPCUnknownError: Status.UNKNOWN,
  GRPCDeadlineExceededError: Status.DEADLINE_EXCEEDED,
  GRPCNotFoundError: Status.NOT_FOUND,
  EtcdLeaseInvalidError: Status.NOT_FOUND,
  EtcdPermissionDeniedError: Status.PERMISSION_DENIED,
  GRPCResourceExhastedError: Status.RESOURCE_EXHAUSTED,
  GRPCAbortedError: Status.ABORTED,
  GRPCOutOfRangeError: Status.OUT_OF_RANGE,
  GRPCInternalError: Status.INTERNAL,
  GRPCUnavailableError: Status.UNAVAILABLE,
  GRPCUnauthenticatedError: Status.UNAUTHENTICATED,
  EtcdAuthenticationFailedError: Status.UNAUTHENTICATED,
  EtcdInvalidAuthTokenError: Status.UNAUTHENTICATED,
};

/** Statuses after which the same call may succeed on another member or a moment later. */
const TRANSIENT: ReadonlySet<number> = new Set([
  Status.CANCELLED,
  Status.DEADLINE_EXCEEDED,
  Status.RESOURCE_EXHAUSTED,
  Status.ABORTED,
  Status.INTERNAL,
  Status.UNAVAILABLE,
]);


function className(e: object): string {
  return (e.constructor as { name?: string } | undefined)?.name ?? "";
}

/** The gRPC status an error from etcd3 (by class) or from a grpc-js stream (by `code`) carries. */
export function grpcStatus(e: unknown): number | undefined {
  if (typeof e !== "object" || e === null) return undefined;
  const code = (e as { code?: unknown }).code;
  if (typeof code === "number") return code;
  return CLASS_STATUS[className(e)];
}

function networkCode(e: unknown): string | undefined {
  for (let cur: unknown = e, depth = 0; typeof cur === "object" && cur !== null && depth < 3; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_ERROR_CODES.has(code)) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** True if retrying (on another member, after a pause) may succeed: unreachable, overloaded, no leader. */
export function isTransient(e: unknown): boolean {
  if (isConcordError(e)) return e.code === "UNAVAILABLE" && e.retryable;
  const status = grpcStatus(e);
  if (status !== undefined) return TRANSIENT.has(status);
  if (networkCode(e) !== undefined) return true;
  // cockatiel's breaker refusing every member of the pool for a while.
  return typeof e === "object" && e !== null && className(e) === "BrokenCircuitError";
}

/**
 * Any failure of a call to etcd as a ConcordError. `endpoints` names the cluster in the message;
 * it never carries credentials (those travel only in gRPC metadata).
 */
export function toConcordError(e: unknown, endpoints: string): ConcordError {
  if (isConcordError(e)) return e;
  const message = (e as Error)?.message ?? String(e);
  const name = typeof e === "object" && e !== null ? className(e) : "";
  if (name === "ClientClosedError") {
    return new ConcordError("CLOSED", "the etcd client is closed; create a new driver", { cause: e, engine: "etcd" });
  }
  const status = grpcStatus(e);
  if (status === Status.PERMISSION_DENIED || status === Status.UNAUTHENTICATED) {
    return new ConcordError("UNAVAILABLE", `etcd at ${endpoints} refused the request (${message}); check the user, password and role`, {
      cause: e,
      engine: "etcd",
      retryable: false,
    });
  }
  const retryable = isTransient(e);
  const what = retryable ? `cannot reach etcd at ${endpoints}` : `etcd at ${endpoints} failed`;
  return new ConcordError("UNAVAILABLE", `${what}: ${message}`, { cause: e, engine: "etcd", retryable });
}

import { NETWORK_ERROR_CODES, TLS_ERROR_CODES } from "../../driver/network-errors.js";
import { ConcordError, isConcordError } from "../../errors.js";


/** Redis error kinds (the first word of an error reply) that pass once the server recovers. */
const TRANSIENT = new Set(["LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "CLUSTERDOWN", "READONLY", "OOM", "NOREPLICAS"]);
const AUTH = new Set(["NOAUTH", "WRONGPASS", "NOPERM"]);

/**
 * The kind of a Redis error reply: by the protocol, its first word (`ERR`, `WRONGTYPE`, `NOSCRIPT`…).
 * This is the code Redis gives; ioredis keeps it only at the head of the message.
 */
function replyKind(e: { name?: unknown; message?: unknown }): string | undefined {
  if (e.name !== "ReplyError" || typeof e.message !== "string") return undefined;
  return /^[A-Z]+/.exec(e.message)?.[0];
}

/**
 * Remembers the code of the last socket error of a connection the driver owns. ioredis reports
 * ECONNREFUSED and the like only as an "error" event, and fails the command itself with a bare
 * "Connection is closed" or MaxRetriesPerRequestError; the listener also keeps ioredis from
 * printing every reconnect failure to the console.
 */
export class SocketErrors {
  #last: string | undefined;

  watch(emitter: { on(event: "error", fn: (e: unknown) => void): unknown; on(event: "ready", fn: () => void): unknown }): void {
    emitter.on("error", (e) => {
      const code = (e as { code?: unknown } | null)?.code;
      // A refused certificate or AUTH says more than the reset that follows it: it stays until ready.
      const sticky = this.#last !== undefined && (TLS_ERROR_CODES.has(this.#last) || AUTH.has(this.#last));
      if (typeof code === "string" && (!sticky || TLS_ERROR_CODES.has(code))) this.#last = code;
      // A refused AUTH during the handshake surfaces only here; the command itself just sees the close.
      const kind = replyKind((e ?? {}) as { name?: unknown; message?: unknown });
      if (kind !== undefined && AUTH.has(kind)) this.#last = kind;
    });
    emitter.on("ready", () => {
      this.#last = undefined;
    });
  }

  get last(): string | undefined {
    return this.#last;
  }
}

/**
 * Turns an ioredis failure into a `ConcordError`, judged by error code, never by message text.
 * Messages name the server by `address` (host:port), never by URL, so credentials stay out of them.
 * `socketCode` is the last socket error seen on the connection, when the failure itself has none.
 */
export function redisError(e: unknown, address: string, socketCode?: string): ConcordError {
  if (isConcordError(e)) return e;
  const err = (typeof e === "object" && e !== null ? e : {}) as { name?: unknown; code?: unknown; message?: unknown };
  const opts = { cause: scrubbed(e), engine: "redis" };
  const code = typeof err.code === "string" ? err.code : replyKind(err) === undefined ? socketCode : undefined;
  if (code !== undefined && NETWORK_ERROR_CODES.has(code)) {
    return new ConcordError("UNAVAILABLE", `redis at ${address} is unreachable (${code}); is the server running?`, opts);
  }
  if (code !== undefined && TLS_ERROR_CODES.has(code)) {
    return new ConcordError("UNAVAILABLE", `redis at ${address}: the server's TLS certificate was refused (${code}); name its CA with rediss://…?tlsCa=PATH`, {
      ...opts,
      retryable: false,
    });
  }
  const kind = replyKind(err) ?? (code !== undefined && AUTH.has(code) ? code : undefined);
  if (kind === undefined) {
    // Not a reply: the connection closed, the retry budget ran out (MaxRetriesPerRequestError)…
    const what = code ?? (typeof err.name === "string" ? err.name : "error");
    return new ConcordError("UNAVAILABLE", `redis at ${address}: connection failed (${what}); retry later`, opts);
  }
  if (TRANSIENT.has(kind)) {
    return new ConcordError("UNAVAILABLE", `redis at ${address} cannot serve the request now (${kind}); retry later`, opts);
  }
  if (AUTH.has(kind)) {
    return new ConcordError("UNAVAILABLE", `redis at ${address} refused the credentials (${kind}); check the user and password`, {
      ...opts,
      retryable: false,
    });
  }
  if (kind === "WRONGTYPE") {
    return new ConcordError("CORRUPT", `redis at ${address}: a key of the keyspace holds foreign data (WRONGTYPE); use a keyspace of its own`, opts);
  }
  // Anything else is a bug or a misconfiguration that retrying will not cure.
  const text = String(err.message).slice(0, 300);
  return new ConcordError("UNAVAILABLE", `redis at ${address} failed the request: ${text}`, { ...opts, retryable: false });
}

/** Commands whose arguments carry credentials (ioredis attaches a failed command's arguments to its error). */
const SECRET_COMMANDS = new Set(["auth", "hello", "migrate"]);

/** `e` without the arguments of a command that carries credentials, so no cause chain can print them. */
function scrubbed(e: unknown): unknown {
  const cmd = (e as { command?: { name?: unknown } } | null)?.command;
  if (typeof cmd !== "object" || cmd === null || !SECRET_COMMANDS.has(String(cmd.name).toLowerCase())) return e;
  const copy = new Error((e as Error).message);
  copy.name = (e as Error).name;
  return copy;
}

/** True for failures that a reconnect may cure, so a watch waits and retries instead of ending. */
export function isTransient(e: ConcordError): boolean {
  return e.code === "UNAVAILABLE" && e.retryable;
}

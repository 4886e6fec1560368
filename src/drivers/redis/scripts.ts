import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Redis } from "ioredis";

/** The operations, one Lua file each under scripts/. */
export const OPS = [
  "get",
  "range",
  "put",
  "delete",
  "delete-prefix",
  "revision",
  "lease-grant",
  "lease-keep-alive",
  "lease-revoke",
  "sweep",
  "changes",
  "compact",
  "increment",
  "batch",
] as const;
export type Op = (typeof OPS)[number];

/** An argument as ioredis sends it; a Buffer goes out byte for byte. */
export type Arg = string | number | Buffer;

/** A script reply with strings as Buffers (values are bytes, not text). */
export type Reply = Buffer | number | null | Reply[];

type Command = (...args: Arg[]) => Promise<Reply>;

function source(name: string): string {
  return readFileSync(new URL(`./scripts/${name}.lua`, import.meta.url), "utf8");
}

/** The Lua of each operation: the shared library, then the operation's own file. */
function loadAll(): ReadonlyMap<Op, string> {
  const lib = source("lib");
  return new Map(OPS.map((op) => [op, `${lib}\n${source(op)}`]));
}

/**
 * The scripts, registered on one client with `defineCommand`: ioredis sends the full EVAL the
 * first time on each connection and EVALSHA after, and resends on NOSCRIPT (a restarted server).
 * Command names carry the script's hash, so two versions of Concord sharing a client never clash.
 */
export class Scripts {
  static #lua: ReadonlyMap<Op, string> | undefined;
  readonly #commands = new Map<Op, Command>();

  constructor(client: Redis) {
    Scripts.#lua ??= loadAll();
    const methods = client as unknown as Record<string, Command>;
    for (const [op, lua] of Scripts.#lua) {
      const name = `concord_${op.replace(/-/g, "_")}_${createHash("sha1").update(lua).digest("hex").slice(0, 12)}`;
      if (typeof methods[`${name}Buffer`] !== "function") client.defineCommand(name, { numberOfKeys: 1, lua });
      const fn = methods[`${name}Buffer`]!;
      this.#commands.set(op, (...args) => fn.apply(client, args));
    }
  }

  /** Runs `op` on the keyspace whose base key is `base`. */
  run(op: Op, base: string, args: Arg[]): Promise<Reply> {
    return this.#commands.get(op)!(base, ...args);
  }
}

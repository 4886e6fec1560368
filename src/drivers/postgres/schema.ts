import { readFileSync } from "node:fs";
import type { PoolClient } from "pg";
import { errorCode } from "./errors.js";

/** Version of the SQL in ./sql; a client installs (or upgrades) when the database has an older one. */
export const SCHEMA_VERSION = 2;

// Order matters: SQL-language functions are checked against what already exists when created.
const FILES = ["schema.sql", "leases.sql", "reads.sql", "writes.sql"] as const;

// First key of the install's advisory lock ("Conc"): keeps clear of other users of advisory locks.
const LOCK_CLASS = 0x436f6e63;

/** `"name"`; callers validate names first (see `checkSchemaName`), so no quote can occur inside. */
export function quoteIdent(name: string): string {
  return `"${name}"`;
}

/** The NOTIFY channel every write of the keyspace signals on. */
export function channelOf(schema: string): string {
  return `concord_${schema}`;
}

function literal(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** The SQL files with the keyspace's names filled in, as one script. */
export function installScript(schema: string): string {
  const parts = FILES.map((f) => readFileSync(new URL(`./sql/${f}`, import.meta.url), "utf8"));
  return parts
    .join("\n")
    .replaceAll("__S__", quoteIdent(schema))
    .replaceAll("__CHANNEL__", literal(channelOf(schema)))
    .replaceAll("__VERSION__", String(SCHEMA_VERSION));
}

async function installedVersion(client: PoolClient, schema: string): Promise<number> {
  try {
    const r = await client.query<{ v: number }>(`SELECT ${quoteIdent(schema)}.schema_version() AS v`);
    return r.rows[0]?.v ?? 0;
  } catch (e) {
    // No schema, or no function yet: not installed. Anything else (no server) is the caller's error.
    if (errorCode(e) === "3F000" || errorCode(e) === "42883") return 0;
    throw e;
  }
}

/**
 * Creates the keyspace's schema, tables and functions on first use: one transaction under an
 * advisory lock, so clients starting together neither fail on each other's CREATE nor see half of it.
 * Costs one query when the schema is already there.
 */
export async function ensureSchema(client: PoolClient, schema: string): Promise<void> {
  if ((await installedVersion(client, schema)) >= SCHEMA_VERSION) return;
  try {
    await client.query(
      `BEGIN; SELECT pg_advisory_xact_lock(${LOCK_CLASS}, hashtext(${literal(schema)}));\n${installScript(schema)}\nCOMMIT;`,
    );
  } catch (e) {
    // The script stops at the failing statement inside the transaction; end it before the caller
    // releases the connection (a connection that cannot even roll back is thrown away by the caller).
    await client.query("ROLLBACK").catch(() => undefined);
    throw e;
  }
}

import { invalid } from "../../errors.js";

/** The default schema of a keyspace: `postgres://…/db` and `postgres://…/db?schema=concord` are one. */
export const DEFAULT_SCHEMA = "concord";

// Lowercase so that quoting never changes the meaning; short enough that the NOTIFY channel and
// the prepared statement names derived from it stay under PostgreSQL's 63-byte identifier limit.
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,39}$/;

/** Throws `INVALID_ARGUMENT` unless `schema` is a plain lowercase identifier of at most 40 characters. */
export function checkSchemaName(schema: unknown): asserts schema is string {
  if (typeof schema !== "string" || !SCHEMA_NAME.test(schema)) {
    throw invalid("schema", `expected a lowercase identifier of at most 40 characters ([a-z_][a-z0-9_]*), got ${JSON.stringify(schema)}`);
  }
}

export interface PostgresUrl {
  /** The URL for pg, without Concord's own parameters (`sslmode` and the rest pass through). */
  connectionString: string;
  schema: string | undefined;
  /** host:port, for messages: never the whole URL, which may carry a password. */
  where: string;
}

const SSL_MODES = new Set(["disable", "prefer", "require", "verify-ca", "verify-full", "no-verify"]);

/**
 * Parses `postgres://user:pass@host:port/db?schema=NAME&sslmode=…`. `sslmode` means what it means
 * to libpq (and psql): `require` encrypts without checking the certificate (or checks it against
 * `sslrootcert=PATH` if given, as verify-ca), `verify-ca` checks the CA, `verify-full` the CA and the
 * host name; `sslcert`/`sslkey` give a client certificate. (pg alone would treat require as
 * verify-full and warn on every connection; pg's own `no-verify` is kept.)
 */
export function parsePostgresUrl(url: string): PostgresUrl {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalid("url", "expected postgres://user:password@host:port/database?schema=NAME");
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") {
    throw invalid("url", `expected the postgres: or postgresql: scheme, got ${u.protocol}`);
  }
  const schema = u.searchParams.get("schema") ?? undefined;
  if (schema !== undefined) checkSchemaName(schema);
  u.searchParams.delete("schema");
  const sslmode = u.searchParams.get("sslmode");
  if (sslmode !== null) {
    if (!SSL_MODES.has(sslmode)) throw invalid("url", `sslmode=${JSON.stringify(sslmode)} is not one of ${[...SSL_MODES].join(", ")}`);
    if (sslmode === "verify-ca" && !u.searchParams.has("sslrootcert")) throw invalid("url", "sslmode=verify-ca needs sslrootcert=PATH (the CA to check against)");
    if (sslmode !== "no-verify" && !u.searchParams.has("uselibpqcompat")) u.searchParams.set("uselibpqcompat", "true");
  }
  return { connectionString: u.toString(), schema, where: whereOf(u) };
}

function whereOf(u: URL): string {
  // A socket directory given as ?host=/run/postgresql is where the server is, too.
  const host = u.hostname || u.searchParams.get("host") || process.env["PGHOST"] || "localhost";
  return `${host}:${u.port || process.env["PGPORT"] || "5432"}`;
}

/** host:port of a pool's settings, for messages. */
export function describeTarget(config: { connectionString?: string | undefined; host?: string | undefined; port?: number | undefined }): string {
  if (config.connectionString) {
    try {
      return whereOf(new URL(config.connectionString));
    } catch {
      // not a URL (a key=value string): fall through to the discrete settings
    }
  }
  return `${config.host ?? process.env["PGHOST"] ?? "localhost"}:${config.port ?? process.env["PGPORT"] ?? 5432}`;
}

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { connect, isConcordError } from "../../src/index.js";
import { PrivateEtcd, PrivatePostgres, PrivateRedis } from "../helpers/private-engines.js";
import { everythingPrinted, serverEngines } from "./kit.js";

/**
 * Each server engine with authentication (and TLS) switched on, on PRIVATE instances: the URL forms
 * users expect work; a wrong password is a clear, non-retryable UNAVAILABLE; and no password ever
 * shows in an error's message, stack or cause chain, nor in the CLI's output.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const engines = serverEngines();
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const f of cleanups.splice(0)) await f().catch(() => undefined);
}, 30_000);

/** A password that cannot appear anywhere by chance; with URL-special characters that must be percent-encoded. */
function secret(tag: string): string {
  return `${tag}-${randomBytes(6).toString("hex")}:@!`;
}

const enc = encodeURIComponent;

function expectNoSecret(text: string, secrets: string[], where: string): void {
  for (const s of secrets) {
    for (const form of new Set([s, enc(s), s.replace(/[^a-z0-9-]+$/i, "")])) {
      expect(text.includes(form), `${where} contains the password (${form})`).toBe(false);
    }
  }
}

/** Connects (and closes) expecting failure; checks the code and that nothing printed holds a secret. */
async function refused(url: string, secrets: string[], code = "UNAVAILABLE", retryable: boolean | null = false): Promise<Error> {
  let err: unknown;
  try {
    const c = await connect(url, { ttlMs: 2_000 });
    try {
      await c.value("probe").get();
    } finally {
      await c.close();
    }
  } catch (e) {
    err = e;
  }
  expect(err, "the connection was refused").toBeDefined();
  expect(isConcordError(err, code as never), `expected ${code}, got ${String(err)}`).toBe(true);
  if (retryable !== null) expect((err as { retryable?: boolean }).retryable, `retryable of ${String(err)}`).toBe(retryable);
  expectNoSecret(everythingPrinted(err), secrets, "the error");
  return err as Error;
}

/** A client that works: a lock, a value and a watch event. */
async function works(url: string): Promise<void> {
  const c = await connect(url, { ttlMs: 2_000 });
  try {
    const held = await c.lock("l").acquire({ timeoutMs: 5_000 });
    expect((await c.value<string>("v").set("x", { fence: held })).ok).toBe(true);
    await held.release();
    expect(await c.value<string>("v").get()).toMatchObject({ value: "x" });
  } finally {
    await c.close();
  }
}

interface CliResult {
  code: number | null;
  out: string;
}

/** The CLI as a real process, stacks included (CONCORD_DEBUG), bounded to 60 s (a loaded machine starts tsx slowly). */
function cli(args: string[]): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
      cwd: ROOT,
      env: { ...process.env, CONCORD_DEBUG: "1", CONCORD_STORE: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, out });
    });
  });
}

/** The CLI with the right URL works, with a wrong password fails; neither prints a secret. */
async function cliKeepsSecrets(good: string, bad: string, secrets: string[]): Promise<void> {
  const [set, get, wrong] = await Promise.all([
    cli(["--store", good, "set", "cli-key", '"hello"']),
    cli(["--store", good, "counter", "cli-n", "incr"]),
    cli(["--store", bad, "get", "cli-key"]),
  ]);
  expect(set.code, set.out).toBe(0);
  expect(get.code, get.out).toBe(0);
  expect(wrong.code).not.toBe(0);
  expect(wrong.out).toMatch(/UNAVAILABLE/);
  for (const r of [set, get, wrong]) expectNoSecret(r.out, secrets, "the CLI output");
}

if (engines.includes("redis")) describe("auth and TLS: redis", () => {
  it("requirepass and an ACL user (redis://user:pass@…) work; a wrong password is UNAVAILABLE and never printed, by errors or the CLI", async () => {
    const pass = secret("rpw");
    const userPass = secret("upw");
    const redis = await PrivateRedis.start({ password: pass, user: { name: "app", password: userPass } });
    cleanups.push(() => redis.close());
    await works(`redis://:${enc(pass)}@${redis.address}?keyspace=a`);
    await works(`redis://app:${enc(userPass)}@${redis.address}?keyspace=a`);
    const wrong = secret("wrong");
    const secrets = [pass, userPass, wrong];
    await refused(`redis://app:${enc(wrong)}@${redis.address}?keyspace=a`, secrets);
    await refused(`redis://:${enc(wrong)}@${redis.address}?keyspace=a`, secrets);
    await refused(`redis://${redis.address}?keyspace=a`, secrets); // no password at all
    await cliKeepsSecrets(`redis://app:${enc(userPass)}@${redis.address}?keyspace=cli`, `redis://app:${enc(wrong)}@${redis.address}?keyspace=cli`, secrets);
  }, 120_000);

  it("rediss:// with ?tlsCa=PATH works; without the CA the server certificate is refused", async () => {
    const pass = secret("tpw");
    const redis = await PrivateRedis.start({ tls: true, password: pass });
    cleanups.push(() => redis.close());
    const ca = redis.certs!.ca;
    await works(`rediss://:${enc(pass)}@${redis.address}?keyspace=t&tlsCa=${enc(ca)}`);
    await refused(`rediss://:${enc(pass)}@${redis.address}?keyspace=t`, [pass]); // system CAs do not know ours
    await refused(`redis://:${enc(pass)}@${redis.address}?keyspace=t`, [pass], "UNAVAILABLE", null); // plain text to a TLS port: reset
    const bad = await refused(`redis://:${enc(pass)}@${redis.address}?keyspace=t&tlsCa=${enc(ca)}`, [pass], "INVALID_ARGUMENT");
    expect(bad.message).toMatch(/rediss/);
  }, 120_000);
});

if (engines.includes("postgres")) describe("auth and TLS: postgres", () => {
  it("scram password and sslmode (require, verify-full with sslrootcert) work; a wrong password is UNAVAILABLE and never printed, by errors or the CLI", async () => {
    const pass = secret("ppw");
    const pg = await PrivatePostgres.start({ password: pass, ssl: true });
    cleanups.push(() => pg.close());
    const ca = pg.certs!.ca;
    const base = `postgres://postgres:${enc(pass)}@${pg.address}/postgres?schema=a`;
    await works(`${base}&sslmode=require`); // libpq's meaning: encrypted, certificate not checked
    await works(`${base}&sslmode=verify-full&sslrootcert=${enc(ca)}`);
    await refused(`${base}&sslmode=verify-full`, [pass]); // our CA is not the system's: TLS is really in use
    await works(base);
    const wrong = secret("wrong");
    const secrets = [pass, wrong];
    await refused(`postgres://postgres:${enc(wrong)}@${pg.address}/postgres?schema=a&sslmode=require`, secrets);
    await refused(`postgres://postgres:${enc(wrong)}@${pg.address}/postgres?schema=a`, secrets);
    // No password for a scram user: pg fails in the client before the server can say why (no code).
    await refused(`postgres://postgres@${pg.address}/postgres?schema=a`, secrets, "UNAVAILABLE", null);
    const bad = await refused(`${base}&sslmode=verify-ca`, secrets, "INVALID_ARGUMENT");
    expect(bad.message).toMatch(/sslrootcert/);
    await cliKeepsSecrets(`${base}&sslmode=require`, `postgres://postgres:${enc(wrong)}@${pg.address}/postgres?schema=a`, secrets);
  }, 120_000);
});

if (engines.includes("etcd")) describe("auth and TLS: etcd", () => {
  it("etcd://user:pass@… with auth enabled works; a wrong password is UNAVAILABLE and never printed, by errors or the CLI", async () => {
    const pass = secret("epw");
    const etcd = await PrivateEtcd.start({ members: 1 });
    cleanups.push(() => etcd.close());
    await etcd.enableAuth(pass);
    const hosts = etcd.endpoints.join(",");
    await works(`etcd://root:${enc(pass)}@${hosts}?keyspace=a`);
    const wrong = secret("wrong");
    const secrets = [pass, wrong];
    await refused(`etcd://root:${enc(wrong)}@${hosts}?keyspace=a`, secrets);
    await refused(`etcd://${hosts}?keyspace=a`, secrets); // no credentials: permission denied
    await cliKeepsSecrets(`etcd://root:${enc(pass)}@${hosts}?keyspace=cli`, `etcd://root:${enc(wrong)}@${hosts}?keyspace=cli`, secrets);
  }, 120_000);

  it("etcds:// with ?tlsCa and a client certificate (tlsCert, tlsKey) works; without the certificate it is refused", async () => {
    const etcd = await PrivateEtcd.start({ members: 1, tls: true, clientCerts: true });
    cleanups.push(() => etcd.close());
    const c = etcd.certs!;
    const hosts = etcd.endpoints.join(",");
    await works(`etcds://${hosts}?keyspace=t&tlsCa=${enc(c.ca)}&tlsCert=${enc(c.clientCert)}&tlsKey=${enc(c.clientKey)}`);
    // gRPC reports a refused handshake as plain UNAVAILABLE: it cannot be told from a member that is down.
    await refused(`etcds://${hosts}?keyspace=t&tlsCa=${enc(c.ca)}&callTimeoutMs=2000`, [], "UNAVAILABLE", null);
    await refused(`etcd://${hosts}?keyspace=t&tlsCa=${enc(c.ca)}`, [], "INVALID_ARGUMENT");
  }, 120_000);
});

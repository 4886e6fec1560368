import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Etcd3, IOptions } from "etcd3";
import { request as httpsRequest } from "node:https";
import { request as httpRequest } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * PRIVATE engine instances for fault tests: each on free loopback ports, with its data in a temp
 * dir, started, stopped, killed and restarted by the test that owns it, every step bounded in time.
 * The shared engines (6379, 5432, 2379…) are never touched. Every instance is also killed when the
 * test process exits, so a failed test leaves nothing running.
 */

const STEP_MS = 20_000;

// ---------------------------------------------------------------- process bookkeeping

/** Synchronous last-resort cleanups, run on process exit (a crashed test must not leave servers behind). */
const onExit = new Set<() => void>();
process.on("exit", () => {
  for (const f of onExit) {
    try {
      f();
    } catch {
      // best effort
    }
  }
});

/** A free TCP port on 127.0.0.1 (the OS picks it; it is released before use, so a race is possible but rare). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function freePorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await freePort());
  return [...out];
}

function run(cmd: string, args: string[], opts: { timeoutMs?: number; cwd?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: opts.timeoutMs ?? STEP_MS, cwd: opts.cwd, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = STEP_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`private engine: ${what} not ready after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Resolves when `child` has exited, or after `timeoutMs` (then it is SIGKILLed). */
async function stopChild(child: ChildProcess, signal: NodeJS.Signals, timeoutMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill(signal);
  const timer = sleep(timeoutMs).then(() => "late" as const);
  if ((await Promise.race([exited, timer])) === "late") {
    child.kill("SIGKILL");
    await exited;
  }
}

// ---------------------------------------------------------------- certificates

/** PEM files of a throwaway CA, a server certificate for 127.0.0.1/localhost and a client certificate. */
export interface Certs {
  dir: string;
  /** CA certificate (PEM path). */
  ca: string;
  /** Server certificate and key, valid for IP 127.0.0.1 and DNS localhost. */
  cert: string;
  key: string;
  /** Client certificate (CN = `clientCn`) and key, for engines that accept client certificates. */
  clientCert: string;
  clientKey: string;
}

/** Generates a CA, a server and a client certificate (P-256 keys) with the openssl CLI into `dir`. */
export async function makeCerts(dir: string, clientCn = "root"): Promise<Certs> {
  const p = (f: string): string => join(dir, f);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run("openssl", ["req", "-x509", ...ec, "-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "2", "-subj", "/CN=concord-test-ca"]);
  writeFileSync(p("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n");
  writeFileSync(p("client.ext"), "extendedKeyUsage=clientAuth\n");
  for (const [name, cn] of [
    ["server", "localhost"],
    ["client", clientCn],
  ] as const) {
    await run("openssl", ["req", ...ec, "-keyout", p(`${name}.key`), "-out", p(`${name}.csr`), "-subj", `/CN=${cn}`]);
    await run("openssl", [
      "x509", "-req", "-in", p(`${name}.csr`), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial",
      "-out", p(`${name}.crt`), "-days", "2", "-extfile", p(`${name}.ext`),
    ]);
  }
  return { dir, ca: p("ca.crt"), cert: p("server.crt"), key: p("server.key"), clientCert: p("client.crt"), clientKey: p("client.key") };
}

// ---------------------------------------------------------------- redis

export interface PrivateRedisOptions {
  /** `requirepass`: the default user's password. */
  password?: string;
  /** An ACL user with every permission, e.g. `{ name: "app", password: "s3cret" }`. */
  user?: { name: string; password: string };
  /** Serve TLS only (server cert from {@link makeCerts}; clients need not present one). */
  tls?: boolean;
  /** AOF persistence: "always" fsyncs every write before replying; "everysec" may lose the last second. Default: none. */
  appendfsync?: "always" | "everysec";
}

/** A private redis-server child process. */
export class PrivateRedis {
  readonly port: number;
  readonly dir: string;
  readonly certs: Certs | undefined;
  readonly #opts: PrivateRedisOptions;
  #child: ChildProcess | undefined;

  private constructor(port: number, dir: string, certs: Certs | undefined, opts: PrivateRedisOptions) {
    this.port = port;
    this.dir = dir;
    this.certs = certs;
    this.#opts = opts;
  }

  static async start(opts: PrivateRedisOptions = {}): Promise<PrivateRedis> {
    const dir = mkdtempSync(join(tmpdir(), "concord-redis-"));
    const certs = opts.tls ? await makeCerts(dir) : undefined;
    const r = new PrivateRedis(await freePort(), dir, certs, opts);
    onExit.add(r.#exitHook);
    await r.start();
    return r;
  }

  /** `redis://127.0.0.1:PORT` (or `rediss://`), with no credentials; tests add their own. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  readonly #exitHook = (): void => {
    this.#child?.kill("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  };

  #args(): string[] {
    const o = this.#opts;
    const a = ["--bind", "127.0.0.1", "--save", "", "--daemonize", "no", "--dir", this.dir, "--logfile", ""];
    a.push("--protected-mode", "no");
    if (this.certs) {
      a.push("--port", "0", "--tls-port", String(this.port), "--tls-cert-file", this.certs.cert, "--tls-key-file", this.certs.key);
      a.push("--tls-ca-cert-file", this.certs.ca, "--tls-auth-clients", "no");
    } else a.push("--port", String(this.port));
    if (o.appendfsync) a.push("--appendonly", "yes", "--appendfsync", o.appendfsync);
    if (o.password !== undefined) a.push("--requirepass", o.password);
    if (o.user) a.push("--user", o.user.name, "on", `>${o.user.password}`, "~*", "&*", "+@all");
    return a;
  }

  /** Starts the server (again, after stop/kill) and waits until it accepts commands. */
  async start(): Promise<void> {
    if (this.#child && this.#child.exitCode === null && this.#child.signalCode === null) return;
    const child = spawn("redis-server", this.#args(), { stdio: ["ignore", "pipe", "pipe"] });
    this.#child = child;
    let log = "";
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer): void => {
        log += d.toString();
        if (log.includes("Ready to accept connections")) resolve();
      };
      child.stdout!.on("data", onData);
      child.stderr!.on("data", onData);
      child.once("exit", (code) => reject(new Error(`redis-server exited (${String(code)}) before it was ready:\n${log}`)));
    });
    const timer = sleep(STEP_MS).then(() => {
      throw new Error(`redis-server on ${this.port} not ready after ${STEP_MS} ms:\n${log}`);
    });
    try {
      await Promise.race([ready, timer]);
    } catch (e) {
      child.kill("SIGKILL");
      throw e;
    }
  }

  /** SIGTERM (a clean shutdown: the AOF is flushed), bounded. */
  async stop(): Promise<void> {
    if (this.#child) await stopChild(this.#child, "SIGTERM");
  }

  /** SIGKILL: a crash. Only fsynced AOF writes survive. */
  async kill(): Promise<void> {
    if (this.#child) await stopChild(this.#child, "SIGKILL");
  }

  /** Kills the server and starts it again on the same port. */
  async restart(kill = true): Promise<void> {
    await (kill ? this.kill() : this.stop());
    await this.start();
  }

  /** Stops the server and deletes its files. */
  async close(): Promise<void> {
    await this.kill();
    onExit.delete(this.#exitHook);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- postgres

const PG_BIN = "/usr/lib/postgresql/15/bin";

export interface PrivatePostgresOptions {
  /** The `postgres` user's password; host connections then need it (scram-sha-256). Default: trust. */
  password?: string;
  /** Serve SSL (server cert from {@link makeCerts}); plain connections are still accepted. */
  ssl?: boolean;
}

/** A private PostgreSQL cluster (initdb in a temp dir, run as user postgres with pg_ctl). */
export class PrivatePostgres {
  readonly port: number;
  readonly dir: string;
  readonly certs: Certs | undefined;

  private constructor(port: number, dir: string, certs: Certs | undefined) {
    this.port = port;
    this.dir = dir;
    this.certs = certs;
  }

  get #data(): string {
    return join(this.dir, "data");
  }

  /** `127.0.0.1:PORT`. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** `postgres://postgres[:password]@127.0.0.1:PORT/postgres`. */
  url(password?: string): string {
    return `postgres://postgres${password === undefined ? "" : `:${encodeURIComponent(password)}`}@127.0.0.1:${this.port}/postgres`;
  }

  static async start(opts: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
    const dir = mkdtempSync(join(tmpdir(), "concord-pg-"));
    const { uid, gid } = postgresIds();
    chownSync(dir, uid, gid);
    const certs = opts.ssl ? await makeCerts(dir) : undefined;
    const pg = new PrivatePostgres(await freePort(), dir, certs);
    onExit.add(pg.#exitHook);
    const args = ["-D", pg.#data, "-U", "postgres", "--no-sync", "--auth-local=trust", "-E", "UTF8", "--locale=C"];
    if (opts.password !== undefined) {
      const pwfile = join(dir, "pwfile");
      writeFileSync(pwfile, `${opts.password}\n`, { mode: 0o600 });
      chownSync(pwfile, uid, gid);
      args.push("--auth-host=scram-sha-256", `--pwfile=${pwfile}`);
    } else args.push("--auth-host=trust");
    await run("runuser", ["-u", "postgres", "--", `${PG_BIN}/initdb`, ...args], { timeoutMs: 60_000, cwd: dir });
    const conf = [
      `listen_addresses = '127.0.0.1'`,
      `port = ${pg.port}`,
      `unix_socket_directories = '${dir}'`,
      `max_connections = 40`,
      `shared_buffers = 16MB`,
      `password_encryption = 'scram-sha-256'`,
    ];
    if (certs) {
      for (const f of ["server.crt", "server.key", "ca.crt"]) {
        const to = join(pg.#data, f);
        copyFileSync(join(certs.dir, f), to);
        chmodSync(to, 0o600);
        chownSync(to, uid, gid);
      }
      conf.push(`ssl = on`, `ssl_cert_file = 'server.crt'`, `ssl_key_file = 'server.key'`, `ssl_ca_file = 'ca.crt'`);
    }
    writeFileSync(join(pg.#data, "postgresql.conf"), `${conf.join("\n")}\n`, { flag: "a" });
    await pg.start();
    return pg;
  }

  readonly #exitHook = (): void => {
    spawnSync("runuser", ["-u", "postgres", "--", `${PG_BIN}/pg_ctl`, "-D", this.#data, "stop", "-m", "immediate", "-t", "5"], { stdio: "ignore", timeout: 8_000 });
    rmSync(this.dir, { recursive: true, force: true });
  };

  async #pgCtl(...args: string[]): Promise<void> {
    await run("runuser", ["-u", "postgres", "--", `${PG_BIN}/pg_ctl`, "-D", this.#data, ...args], { timeoutMs: 40_000, cwd: this.dir });
  }

  /** Starts the server and waits until it accepts connections (bounded). */
  async start(): Promise<void> {
    const log = join(this.dir, "server.log");
    if (!existsSync(log)) {
      closeSync(openSync(log, "a"));
      const { uid, gid } = postgresIds();
      chownSync(log, uid, gid);
    }
    await this.#pgCtl("-l", log, "-w", "-t", "30", "start");
  }

  /** `fast` is a clean shutdown; `immediate` is a crash (WAL recovery at the next start). */
  async stop(mode: "fast" | "immediate" = "fast"): Promise<void> {
    await this.#pgCtl("stop", "-m", mode, "-w", "-t", "30");
  }

  /** SIGKILL of the postmaster (its backends notice and exit); the next start recovers from the WAL. */
  async kill(): Promise<void> {
    const pid = Number(readFileSync(join(this.#data, "postmaster.pid"), "utf8").split("\n")[0]);
    process.kill(pid, "SIGKILL");
    await waitFor("postgres to die", async () => !alive(pid), 10_000);
  }

  /** Stops (`immediate` by default: like a crash) and starts the server again on the same port. */
  async restart(mode: "fast" | "immediate" = "immediate"): Promise<void> {
    await this.stop(mode);
    await this.start();
  }

  /** Stops the server and deletes its files. */
  async close(): Promise<void> {
    await this.stop("immediate").catch(() => undefined);
    onExit.delete(this.#exitHook);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function postgresIds(): { uid: number; gid: number } {
  const out = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" }).stdout.trim();
  const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" }).stdout.trim();
  if (!out || !gid) throw new Error("private postgres: there is no user postgres on this machine");
  return { uid: Number(out), gid: Number(gid) };
}

// ---------------------------------------------------------------- etcd

export interface PrivateEtcdOptions {
  /** 1 or 3 members. Default 3. */
  members?: 1 | 3;
  /** Serve clients over TLS (server cert from {@link makeCerts}); with `clientCerts`, clients must present one. */
  tls?: boolean;
  clientCerts?: boolean;
}

interface Member {
  name: string;
  client: number;
  peer: number;
  child: ChildProcess | undefined;
}

/** A private etcd cluster of 1 or 3 members on free loopback ports; members can be killed and brought back. */
export class PrivateEtcd {
  readonly dir: string;
  readonly certs: Certs | undefined;
  readonly #members: Member[];
  readonly #clientCerts: boolean;
  readonly #token = `concord-private-${process.pid}-${Date.now()}`;

  private constructor(dir: string, certs: Certs | undefined, members: Member[], clientCerts: boolean) {
    this.dir = dir;
    this.certs = certs;
    this.#members = members;
    this.#clientCerts = clientCerts;
  }

  static async start(opts: PrivateEtcdOptions = {}): Promise<PrivateEtcd> {
    const n = opts.members ?? 3;
    const dir = mkdtempSync(join(tmpdir(), "concord-etcd-"));
    const certs = opts.tls ? await makeCerts(dir, "root") : undefined;
    const ports = await freePorts(2 * n);
    const members = Array.from({ length: n }, (_, i) => ({ name: `m${i}`, client: ports[2 * i]!, peer: ports[2 * i + 1]!, child: undefined }));
    const e = new PrivateEtcd(dir, certs, members, opts.clientCerts ?? false);
    onExit.add(e.#exitHook);
    for (let i = 0; i < n; i++) e.#spawn(i);
    await e.#waitHealthy(members.map((_, i) => i));
    return e;
  }

  readonly #exitHook = (): void => {
    for (const m of this.#members) m.child?.kill("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  };

  /** Client endpoints as `127.0.0.1:PORT`, member 0 first. */
  get endpoints(): string[] {
    return this.#members.map((m) => `127.0.0.1:${m.client}`);
  }

  /** The `http(s)://127.0.0.1:PORT` client URL of member `i`. */
  clientUrl(i: number): string {
    return `${this.certs ? "https" : "http"}://127.0.0.1:${this.#members[i]!.client}`;
  }

  #spawn(i: number): void {
    const m = this.#members[i]!;
    const cluster = this.#members.map((x) => `${x.name}=http://127.0.0.1:${x.peer}`).join(",");
    const url = this.clientUrl(i);
    const args = [
      "--name", m.name, "--data-dir", join(this.dir, m.name),
      "--listen-client-urls", url, "--advertise-client-urls", url,
      "--listen-peer-urls", `http://127.0.0.1:${m.peer}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${m.peer}`,
      "--initial-cluster", cluster, "--initial-cluster-state", "new", "--initial-cluster-token", this.#token,
      "--heartbeat-interval", "50", "--election-timeout", "500", "--log-level", "error",
    ];
    if (this.certs) {
      args.push("--cert-file", this.certs.cert, "--key-file", this.certs.key);
      if (this.#clientCerts) args.push("--client-cert-auth", "--trusted-ca-file", this.certs.ca);
    }
    const log = openSync(join(this.dir, `${m.name}.log`), "a");
    m.child = spawn("etcd", args, { stdio: ["ignore", log, log] });
    closeSync(log);
  }

  /** The index of the member that leads now (asked of the first member that answers), or undefined. */
  async leader(): Promise<number | undefined> {
    for (let i = 0; i < this.#members.length; i++) {
      const body = await this.#call(i, "POST", "/v3/maintenance/status", "{}").catch(() => undefined);
      if (body === undefined) continue;
      const s = JSON.parse(body) as { header?: { member_id?: string }; leader?: string };
      if (s.leader === undefined || s.header?.member_id === undefined) continue;
      if (s.leader === s.header.member_id) return i;
      // Ask the others which of them it is.
      for (let j = 0; j < this.#members.length; j++) {
        const b = await this.#call(j, "POST", "/v3/maintenance/status", "{}").catch(() => undefined);
        if (b !== undefined && (JSON.parse(b) as { header?: { member_id?: string } }).header?.member_id === s.leader) return j;
      }
    }
    return undefined;
  }

  /** One HTTP request to member `i`'s client URL (TLS material applied); resolves with the body of a 200. */
  #call(i: number, method: string, path: string, body?: string): Promise<string> {
    const c = this.certs;
    return new Promise((resolve, reject) => {
      const req = (c ? httpsRequest : httpRequest)(
        `${this.clientUrl(i)}${path}`,
        {
          method,
          timeout: 1_000,
          ...(c ? { ca: readFileSync(c.ca), ...(this.#clientCerts ? { cert: readFileSync(c.clientCert), key: readFileSync(c.clientKey) } : {}) } : {}),
        },
        (res) => {
          let text = "";
          res.on("data", (d: Buffer) => (text += d.toString()));
          res.on("end", () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`HTTP ${String(res.statusCode)}: ${text}`))));
        },
      );
      req.on("error", reject);
      req.on("timeout", () => req.destroy(new Error("timed out")));
      req.end(body);
    });
  }

  /** GET /health on member `i`: true when it answers and the cluster has a leader. */
  async #health(i: number): Promise<boolean> {
    const body = await this.#call(i, "GET", "/health").catch(() => "");
    return body.includes('"true"');
  }

  async #waitHealthy(members: number[]): Promise<void> {
    for (const i of members) await waitFor(`etcd member m${i} on ${this.#members[i]!.client}`, () => this.#health(i));
  }

  /**
   * Switches authentication on, as `etcdctl user add root` + `auth enable` would: creates the role
   * and user `root` with `password`, then enables auth. Every client then needs the credentials.
   */
  async enableAuth(password: string): Promise<void> {
    const { Etcd3: Client } = createRequire(import.meta.url)("etcd3") as { Etcd3: new (o: IOptions) => Etcd3 };
    const c = this.certs;
    const client = new Client({
      hosts: this.#members.map((_, i) => this.clientUrl(i)),
      ...(c
        ? {
            credentials: {
              rootCertificate: readFileSync(c.ca),
              ...(this.#clientCerts ? { certChain: readFileSync(c.clientCert), privateKey: readFileSync(c.clientKey) } : {}),
            },
          }
        : {}),
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + 5_000 }),
    });
    try {
      await client.role("root").create();
      await client.user("root").create(password);
      await client.user("root").addRole("root");
      await client.auth.authEnable();
    } finally {
      client.close();
    }
  }

  /** SIGKILLs member `i` (its data stays, so {@link restartMember} brings it back). */
  async kill(i: number): Promise<void> {
    const c = this.#members[i]!.child;
    if (c) await stopChild(c, "SIGKILL");
  }

  /** Starts member `i` again from its data dir and waits until it is healthy. */
  async restartMember(i: number): Promise<void> {
    const c = this.#members[i]!.child;
    if (c && c.exitCode === null && c.signalCode === null) await stopChild(c, "SIGKILL");
    this.#spawn(i);
    await this.#waitHealthy([i]);
  }

  /** Kills every member and deletes the data. */
  async close(): Promise<void> {
    await Promise.all(this.#members.map((m) => (m.child ? stopChild(m.child, "SIGKILL") : undefined)));
    onExit.delete(this.#exitHook);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

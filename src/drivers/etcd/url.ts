import { invalid } from "../../errors.js";

/** What an `etcd://` URL says. */
export interface EtcdUrl {
  /** Endpoints as `http(s)://host:port`, in the order given. */
  hosts: string[];
  keyspace: string;
  auth?: { username: string; password: string };
  callTimeoutMs?: number;
  /** PEM file paths from `?tlsCa=`, `tlsCert=`, `tlsKey=` (`etcds://` only). */
  tls?: { ca?: string; cert?: string; key?: string };
}

const DEFAULT_PORT = 2379;
const HOST = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/;
const PARAMS = new Set(["keyspace", "callTimeoutMs", "tlsCa", "tlsCert", "tlsKey"]);
const TLS_PARAMS = { tlsCa: "ca", tlsCert: "cert", tlsKey: "key" } as const;

/** `etcd://user:pass@h1` with the user-info masked, for error messages. */
function masked(url: string): string {
  return url.replace(/^([a-z]+:\/\/)[^@/?#]*@/i, "$1***@");
}

function decode(part: string, what: string, url: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw invalid("url", `the ${what} in ${masked(url)} is not valid percent-encoding`);
  }
}

/**
 * Parses `etcd://[user:password@]host[:port][,host[:port]…][/][?keyspace=NAME&callTimeoutMs=N]`;
 * `etcds://` means TLS, trusting the system's CAs or the PEM file `?tlsCa=PATH`, with a client
 * certificate from `tlsCert=PATH&tlsKey=PATH` if the cluster asks for one. Ports default to 2379.
 * Errors never repeat the password.
 */
export function parseEtcdUrl(url: string): EtcdUrl {
  const m = /^(etcds?):(?:\/\/)?([^?#]*)(?:\?([^#]*))?$/i.exec(url);
  if (!m) throw invalid("url", `${JSON.stringify(masked(url))} is not an etcd URL; expected etcd://host:2379[,host:port…]`);
  const scheme = m[1]!.toLowerCase() === "etcds" ? "https" : "http";
  let rest = m[2]!.replace(/\/+$/, "");
  const out: EtcdUrl = { hosts: [], keyspace: "" };
  const at = rest.lastIndexOf("@");
  if (at >= 0) {
    const info = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = info.indexOf(":");
    if (colon < 0) throw invalid("url", `${masked(url)} names a user without a password; use etcd://user:password@host`);
    out.auth = { username: decode(info.slice(0, colon), "user name", url), password: decode(info.slice(colon + 1), "password", url) };
  }
  if (rest === "") throw invalid("url", `${masked(url)} names no host; expected etcd://host:2379[,host:port…]`);
  if (rest.includes("/")) throw invalid("url", `${masked(url)} has a path; put the keyspace in ?keyspace=NAME`);
  for (const h of rest.split(",")) {
    const hm = HOST.exec(h);
    if (!hm) throw invalid("url", `${JSON.stringify(h)} in ${masked(url)} is not host or host:port`);
    const port = hm[1] === undefined ? DEFAULT_PORT : Number(hm[1]);
    if (port < 1 || port > 65535) throw invalid("url", `port ${port} in ${masked(url)} is out of range`);
    out.hosts.push(`${scheme}://${hm[1] === undefined ? `${h}:${port}` : h}`);
  }
  const params = new URLSearchParams(m[3] ?? "");
  for (const [name, value] of params) {
    if (!PARAMS.has(name)) throw invalid("url", `unknown parameter ${JSON.stringify(name)} in ${masked(url)}; known: ${[...PARAMS].join(", ")}`);
    if (name === "keyspace") out.keyspace = value;
    if (name in TLS_PARAMS) {
      if (scheme !== "https") throw invalid("url", `${name} needs TLS: use etcds://`);
      (out.tls ??= {})[TLS_PARAMS[name as keyof typeof TLS_PARAMS]] = value;
    }
    if (name === "callTimeoutMs") {
      const n = Number(value);
      if (!Number.isSafeInteger(n) || n < 1) throw invalid("url", `callTimeoutMs must be a positive integer, got ${JSON.stringify(value)}`);
      out.callTimeoutMs = n;
    }
  }
  if (out.tls && (out.tls.cert === undefined) !== (out.tls.key === undefined)) throw invalid("url", "tlsCert and tlsKey go together");
  return out;
}

/** Query parameters whose values are secrets in connection URLs. */
const SECRET_PARAMS = /([?&](?:password|pass|pwd|token|secret|auth|access_?key|secret_?key)=)[^&#]*/gi;
const USERINFO = /^([a-z][a-z0-9+.-]*:(?:\/\/)?)([^@/?#]+)@/i;

/**
 * A store URL safe to print: `redis://user:pass@host` becomes `redis://***@host`, and secret
 * query parameters (`?password=…`, `?token=…`) become `***`. Other URLs are returned unchanged.
 */
export function maskUrl(url: string): string {
  return url.replace(USERINFO, "$1***@").replace(SECRET_PARAMS, "$1***");
}

/**
 * Removes from `text` every secret the URL carries (its user-info and secret query values), so an
 * engine's error message that quotes the URL or the password cannot leak it.
 */
export function redact(text: string, url: string | undefined): string {
  if (!url) return text;
  const secrets: string[] = [];
  const info = USERINFO.exec(url)?.[2];
  if (info) {
    secrets.push(info);
    const colon = info.indexOf(":");
    if (colon >= 0 && colon < info.length - 1) secrets.push(info.slice(colon + 1));
  }
  for (const m of url.matchAll(SECRET_PARAMS)) {
    const value = url.slice(m.index + m[1]!.length, m.index + m[0].length);
    if (value) secrets.push(value);
  }
  let out = text.split(url).join(maskUrl(url));
  for (const s of secrets.sort((a, b) => b.length - a.length)) {
    out = out.split(s).join("***");
    const decoded = safeDecode(s);
    if (decoded !== s && decoded.length > 0) out = out.split(decoded).join("***");
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

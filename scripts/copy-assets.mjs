// Copies the engine-native files (SQL) next to the compiled drivers; tsc only emits JavaScript.
import { cpSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (/\.(sql|lua)$/.test(name)) cpSync(p, p.replace(/^src/, "dist"));
  }
}
walk("src");

import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";

const WORKER = fileURLToPath(new URL("../processes/worker.ts", import.meta.url));

/** A worker process and the JSON events it has printed so far. */
export interface Proc {
  child: ChildProcess;
  events: Array<Record<string, unknown>>;
  /** Resolves with the first event of that name (waiting for it if need be). */
  next(event: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  send(line: string): void;
  exited: Promise<number | null>;
}

const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

export function spawnWorker(config: object): Proc {
  const child = spawn(process.execPath, ["--import", "tsx", WORKER, JSON.stringify(config)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  live.add(child);
  const events: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout! }).on("line", (l) => {
    try {
      events.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      return;
    }
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<number | null>((r) =>
    child.on("exit", (code) => {
      live.delete(child);
      for (const w of waiters.splice(0)) w();
      r(code);
    }),
  );
  const next = (event: string, timeoutMs = 15_000): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker ${child.pid}: no "${event}" event in ${timeoutMs} ms; saw ${JSON.stringify(events)}`)), timeoutMs);
      const look = (): void => {
        const e = events.find((x) => x["event"] === event);
        if (e) {
          clearTimeout(timer);
          resolve(e);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(timer);
          reject(new Error(`worker ${child.pid} exited without "${event}"; saw ${JSON.stringify(events)}`));
        } else waiters.push(look);
      };
      look();
    });
  return { child, events, next, send: (l) => child.stdin!.write(`${l}\n`), exited };
}

export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

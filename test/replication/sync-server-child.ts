/**
 * A sync server in its own process for http-process.test.ts: `node --import tsx sync-server-child.ts DB PORT SEED`.
 * Serves the SQLite file DB on 127.0.0.1:PORT (0 = any); on a fresh file first appends SEED events of
 * its own. Prints one JSON line `{ "port", "count" }` once listening, then runs until killed.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createSyncHandler } from "../../src/replication/http/handler.js";
import { Replica } from "../../src/replication/replica.js";
import { SqliteEventStore } from "../../src/replication/stores/sqlite.js";

const [db, port, seed] = process.argv.slice(2);
const replica = new Replica({ nodeId: "server", store: new SqliteEventStore(db!) });
if ((await replica.store.count()) === 0) {
  for (let i = 0; i < Number(seed ?? 0); i++) await replica.append({ id: `server-${i}`, type: "Seeded", aggregateId: `s-${i % 50}`, data: { i } });
}
const server = createServer(createSyncHandler(replica));
server.listen(Number(port ?? 0), "127.0.0.1", () => {
  void replica.store.count().then((count) => {
    process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port, count })}\n`);
  });
});

import { describe, expect, it } from "vitest";
import { PrivateEtcd } from "../helpers/private-engines.js";
import { serverEngines, useFaultClients } from "./kit.js";
import { faultUnderLoad } from "./workload.js";

/**
 * Loss of etcd members on a PRIVATE cluster (free ports, temp data; the shared cluster is never
 * touched): the leader of three SIGKILLed mid-run under counter, map and lock load from clients
 * whose URLs list all three members (each starting from a different one), then brought back; and
 * the one member of a single-member cluster killed and restarted.
 */

const TTL = 2_000;
const { open, cleanup } = useFaultClients(TTL);

/** The cluster's endpoints rotated so that client `i` lists member `i % n` first. */
function urlFor(etcd: PrivateEtcd, i: number, keyspace: string): string {
  const e = etcd.endpoints;
  const rotated = [...e.slice(i % e.length), ...e.slice(0, i % e.length)];
  return `etcd://${rotated.join(",")}?keyspace=${keyspace}`;
}


if (serverEngines().includes("etcd")) describe("etcd member loss", () => {
  it("the leader of three SIGKILLed under load: nothing acknowledged lost, watch gapless, locks exclusive with increasing tokens; it rejoins", async () => {
    const etcd = await PrivateEtcd.start({ members: 3 });
    cleanup(() => etcd.close());
    const writers = [await open(urlFor(etcd, 0, "loss")), await open(urlFor(etcd, 1, "loss")), await open(urlFor(etcd, 2, "loss"))];
    const lockers = [await open(urlFor(etcd, 1, "loss")), await open(urlFor(etcd, 2, "loss")), await open(urlFor(etcd, 0, "loss"))];
    let killed = -1;
    let writtenWhileDown = 0;
    const report = await faultUnderLoad({
      writers,
      lockers,
      watcher: await open(urlFor(etcd, 0, "loss")),
      checker: await open(urlFor(etcd, 2, "loss")),
      fault: async (acked) => {
        killed = (await etcd.leader()) ?? 0;
        await etcd.kill(killed);
        // Two members keep a quorum: writes go on before the lost one is back.
        const before = acked();
        await new Promise((r) => setTimeout(r, 2_500));
        writtenWhileDown = acked() - before;
        await etcd.restartMember(killed);
      },
    });
    expect(killed).toBeGreaterThanOrEqual(0);
    expect(writtenWhileDown, "writes acknowledged while a member was down").toBeGreaterThan(5);
    expect(report.lockRounds).toBeGreaterThan(16);
  }, 120_000);

  it("a single-member cluster killed and restarted: calls fail with UNAVAILABLE or TIMEOUT meanwhile, then recover with nothing acknowledged lost", async () => {
    const etcd = await PrivateEtcd.start({ members: 1 });
    cleanup(() => etcd.close());
    const url = urlFor(etcd, 0, "single");
    const report = await faultUnderLoad({
      writers: [await open(url), await open(url)],
      lockers: [await open(url), await open(url)],
      watcher: await open(url),
      checker: await open(url),
      fault: async () => {
        await etcd.kill(0);
        await new Promise((r) => setTimeout(r, 1_000));
        await etcd.restartMember(0);
      },
    });
    expect(report.failed).toBeGreaterThan(0);
  }, 120_000);
});

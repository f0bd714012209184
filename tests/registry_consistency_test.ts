/**
 * The consistency of the global registry on a supercluster (two regions, 3 servers each and a
 * witness, real nats-server): every global bucket, written through any instance of any region,
 * read through every instance of both.
 */
import assert from "node:assert/strict";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  DEFAULT_BOUND_MS,
  openKv,
  ReplicaBehindError,
  useRegionLayout,
} from "../cloud/nats/mod.ts";
import { buckets, isRegionalBucket } from "../protocol/mod.ts";
import { startTestCluster } from "./harness.ts";

/** The object stores among `buckets` (not KV buckets). */
const OBJECT_STORES = new Set<string>([
  buckets.clips,
  buckets.snapshots,
  buckets.artifacts,
  buckets.uploads,
]);

/** Every global KV bucket (customers, logins, price lists, deployments, credentials...). */
const GLOBAL = Object.values(buckets).filter((b) => !isRegionalBucket(b) && !OBJECT_STORES.has(b));

Deno.test({
  name:
    "every global bucket: a write through any instance is read by every instance of every region at once (new keys) or within the bound (changes), and a region cut off from the primary says it cannot know",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    for (
      const b of [
        buckets.customers,
        buckets.customerLogins,
        buckets.prices,
        buckets.deployments,
        buckets.deviceCredentials,
      ]
    ) {
      assert.ok(GLOBAL.includes(b), `${b} is global`);
    }
    await using cluster = await startTestCluster(["eu", "us"]);
    // Two cloud instances per region (a connection each, as two processes would have).
    const instances: { name: string; nc: NatsConnection }[] = [];
    for (const region of ["eu", "us"]) {
      for (const n of [1, 2]) {
        const nc = await cluster.connect(region, `${region}-${n}`);
        useRegionLayout(nc, { region, primary: "eu", replicas: 3, placement: true });
        instances.push({ name: `${region}-${n}`, nc });
      }
    }
    const opened = new Map<string, KV[]>();
    for (const bucket of GLOBAL) {
      const kvs: KV[] = [];
      for (const i of instances) kvs.push(await openKv(i.nc, bucket, { history: 5 }));
      opened.set(bucket, kvs);
    }
    const written = new Map<string, { bucket: string; key: string; value: string }>();
    for (const bucket of GLOBAL) {
      const kvs = opened.get(bucket)!;
      for (const [w, writer] of kvs.entries()) {
        const key = `k-${instances[w]!.name}`;
        // A new key: every instance of every region reads it at once (a key its mirror lacks
        // is asked of the original, never answered "not found").
        const rev = await writer.create(key, "first");
        for (const [r, reader] of kvs.entries()) {
          const e = await reader.get(key);
          assert.equal(
            e?.string(),
            "first",
            `${bucket}/${key} written by ${instances[w]!.name}, read by ${instances[r]!.name}`,
          );
          assert.equal(e?.revision, rev);
        }
        // A change: read back at once through the instance that made it.
        await writer.put(key, "second");
        assert.equal((await writer.get(key))?.string(), "second", `${bucket}/${key} read back`);
        written.set(`${bucket}/${key}`, { bucket, key, value: "second" });
      }
    }
    // Past the bound every instance reads every change (whether its mirror was fresh or not).
    await new Promise((r) => setTimeout(r, DEFAULT_BOUND_MS + 50));
    for (const { bucket, key, value } of written.values()) {
      for (const [r, reader] of opened.get(bucket)!.entries()) {
        assert.equal(
          (await reader.get(key))?.string(),
          value,
          `${bucket}/${key} read by ${instances[r]!.name} ${DEFAULT_BOUND_MS} ms after`,
        );
      }
    }

    // The primary region goes down: us reads what its mirrors hold, and for a key they lack it
    // says it cannot know yet instead of "not found".
    await cluster.sc.stopRegion("eu");
    const us = opened.get(buckets.customers)![2]!;
    assert.equal((await us.get("k-eu-1"))?.string(), "second");
    await assert.rejects(
      us.get("cus-never-written"),
      (e) => e instanceof ReplicaBehindError && e.bucket === buckets.customers,
    );
    for (const bucket of [buckets.customerLogins, buckets.deviceCredentials]) {
      assert.equal((await opened.get(bucket)![3]!.get("k-us-2"))?.string(), "second", bucket);
      await assert.rejects(opened.get(bucket)![3]!.get("nowhere"), ReplicaBehindError);
    }
  },
});

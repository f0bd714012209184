import assert from "node:assert/strict";
import { buckets } from "./subjects.ts";
import { bucketIn, isRegionalBucket, mirrorOf } from "./regional_buckets.ts";

Deno.test("bucketIn names a regional bucket after its region and keeps a global one", () => {
  assert.equal(bucketIn(buckets.status, "eu-west"), "status_eu-west");
  assert.equal(bucketIn(buckets.shadow, "local"), "shadow_local");
  assert.equal(bucketIn(buckets.registry, "eu-west"), "registry");
  assert.equal(isRegionalBucket(buckets.ledger), true);
  assert.equal(isRegionalBucket(buckets.components), false);
});

Deno.test("mirrorOf names a global bucket's mirror and refuses a regional one", () => {
  assert.equal(mirrorOf(buckets.registry, "us-east"), "registry_mirror_us-east");
  assert.throws(() => mirrorOf(buckets.status, "us-east"), /regional/);
  assert.throws(() => bucketIn(buckets.status, "EU"), /region "EU"/);
});

import assert from "node:assert/strict";
import { planSupercluster, regionUrls, serverConfig, WITNESS_CLUSTER } from "./supercluster.ts";

let nextPort = 20_000;
const port = () => nextPort++;

Deno.test("planSupercluster gives two regions three servers each and a witness", () => {
  const plan = planSupercluster(["eu-west", "us-east"], { port });
  assert.deepEqual(plan.servers.map((s) => s.name), [
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "us-east-1",
    "us-east-2",
    "us-east-3",
    "witness-1",
  ]);
  assert.deepEqual(plan.servers[0]!.tags, ["region:eu-west"]);
  assert.equal(plan.servers[6]!.cluster, WITNESS_CLUSTER);
  assert.equal(plan.servers[6]!.region, null);
  const ports = plan.servers.flatMap((s) => [s.clientPort, s.clusterPort, s.gatewayPort]);
  assert.equal(new Set(ports).size, ports.length, "no port is used twice");
});

Deno.test("planSupercluster adds no witness to an odd number of regions", () => {
  assert.equal(planSupercluster(["a", "b", "c"], { port }).servers.length, 9);
  const one = planSupercluster(["local"], { port });
  assert.equal(one.servers.length, 3);
  assert.equal(one.servers[0]!.gatewayPort, 0, "a single cluster has no gateway");
  assert.doesNotMatch(serverConfig(one, "local-1", { storeDir: "/js" }), /gateway/);
});

Deno.test("planSupercluster refuses a bad, repeated or reserved region", () => {
  assert.throws(() => planSupercluster([]), TypeError);
  assert.throws(() => planSupercluster(["EU"]), /region "EU" is not a region id/);
  assert.throws(() => planSupercluster(["eu", "eu"]), /region "eu" is repeated/);
  assert.throws(() => planSupercluster(["witness"]), TypeError);
  assert.throws(() => planSupercluster(["eu"], { serversPerRegion: 0 }), RangeError);
});

Deno.test("serverConfig lists its routes and every gateway URL of the other clusters", () => {
  const plan = planSupercluster(["eu", "us"], { port });
  const conf = serverConfig(plan, "eu-2", {
    storeDir: "/data/eu-2",
    auth: 'operator: "jwt"',
    tls: { certFile: "/c.pem", keyFile: "/c.key", caFile: "/ca.pem" },
    peerTls: { certFile: "/c.pem", keyFile: "/c.key", caFile: "/ca.pem" },
  });
  const eu = plan.servers.filter((s) => s.cluster === "eu");
  const us = plan.servers.filter((s) => s.cluster === "us");
  const w = plan.servers.find((s) => s.cluster === WITNESS_CLUSTER)!;
  assert.match(conf, /server_name: "eu-2"/);
  assert.match(conf, /server_tags: \["region:eu"\]/);
  for (const s of eu) assert.ok(conf.includes(`nats://127.0.0.1:${s.clusterPort}`));
  // Every gateway URL counts when nats-server sizes JetStream's metadata group.
  for (const s of [...us, w]) assert.ok(conf.includes(`nats://127.0.0.1:${s.gatewayPort}`));
  assert.ok(!conf.includes(`nats://127.0.0.1:${eu[0]!.gatewayPort}`), "not its own cluster");
  assert.equal((conf.match(/verify: true/g) ?? []).length, 2, "mutual TLS on routes and gateways");
  assert.match(conf, /operator: "jwt"/);
  assert.throws(() => serverConfig(plan, "mars-1", { storeDir: "/x" }), RangeError);
  assert.deepEqual(regionUrls(plan, "us"), us.map((s) => `tls://127.0.0.1:${s.clientPort}`));
  assert.throws(() => regionUrls(plan, "mars"), RangeError);
});

import assert from "node:assert/strict";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { startCloudService } from "../cloud/mod.ts";
import type { Logger } from "../runtime/mod.ts";
import { bucketIn, buckets } from "../protocol/mod.ts";
import { prng } from "../pipeline/mod.ts";
import { startTestNats } from "./harness.ts";

const quiet: Logger = { log: () => {} };

/** Every key and revision of the fleet's state buckets. */
async function snapshot(nc: NatsConnection): Promise<string> {
  const out: string[] = [];
  for (
    const name of [
      buckets.registry,
      bucketIn(buckets.status, "local"),
      bucketIn(buckets.commands, "local"),
      bucketIn(buckets.shadow, "local"),
      bucketIn(buckets.alerts, "local"),
    ]
  ) {
    const kv = await new Kvm(nc).create(name);
    const keys: string[] = [];
    for await (const k of await kv.keys()) keys.push(k);
    for (const k of keys.sort()) out.push(`${name}/${k}@${(await kv.get(k))?.revision}`);
  }
  return out.join("\n");
}

Deno.test("fleet API answers 600 random and malformed requests with 4xx only, and changes nothing", async () => {
  await using nats = await startTestNats();
  await using svc = await startCloudService(nats, { logger: quiet });
  await using nc = await nats.connect();
  const admin = await svc.tokens.issue({ subject: "fuzz-admin", role: "admin" });
  const viewer = await svc.tokens.issue({ subject: "fuzz-viewer", role: "viewer" });
  const expired = await svc.tokens.issue({ subject: "old", role: "admin" }, { ttlSeconds: -60 });
  // Some state to protect.
  const put = await fetch(`${svc.url}/devices/m001-a`, {
    method: "PUT",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify({
      machineId: "m001",
      role: "primary",
      region: "local",
      tags: [],
      groups: [],
    }),
  });
  assert.equal(put.status, 201);
  const before = await snapshot(nc);

  const rand = prng(1234);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const badIds = [
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "M001-A",
    "a".repeat(300),
    "%00",
    "dev ice",
    "ñandú",
    "-x",
    "a.b",
    "*",
    ">",
  ];
  const junkBodies = [
    "{",
    "[]",
    "null",
    "42",
    '"str"',
    '{"machineId": 5}',
    '{"machineId":"m001","role":"primary","region":"local","extra":1}',
    '{"machineId":"m001","role":"primary","region":"LOCAL"}',
    '{"command":"self_destruct"}',
    '{"command":"unlock","args":{"durationMs":"soon"}}',
    '{"config":{"bad key":1}}',
    '{"cameras":{"cam-1":{"enabled":true}}}',
    '{"subject":"x","role":"god"}',
    JSON.stringify({
      tags: Array(100).fill("t"),
      machineId: "m1",
      role: "primary",
      region: "local",
    }),
    "[".repeat(5000),
  ];
  const mutating: Array<[string, string]> = [
    ["PUT", "/devices/m001-a"],
    ["PUT", "/devices/m009-a"],
    ["PUT", "/groups/g1"],
    ["PATCH", "/devices/m001-a/shadow/desired"],
    ["POST", "/devices/m001-a/commands"],
    ["POST", "/auth/tokens"],
  ];
  const reads = [
    "/devices",
    "/devices/m001-a",
    "/devices/m001-a/shadow",
    "/alerts",
    "/audit",
    "/groups",
    "/machines",
    "/regions",
    "/commands/abcdefgh1",
  ];
  const statuses = new Map<number, number>();
  let n = 0;
  for (; n < 600; n++) {
    const kind = n % 6;
    let method = "GET";
    let path = pick(reads);
    let body: string | undefined;
    let token: string | undefined = admin;
    const headers: Record<string, string> = {};
    if (kind === 0) {
      // no, garbage, expired or forged token on any route
      [method, path] = rand() < 0.5 ? pick(mutating) : ["GET", pick(reads)];
      token = pick([undefined, "garbage", expired, admin.slice(0, -3) + "abc", "a.b.c"]);
      body = pick(junkBodies);
    } else if (kind === 1) {
      // a viewer tries to change something, with a well-formed body
      [method, path] = pick(mutating);
      token = viewer;
      body = pick([
        '{"machineId":"m001","role":"primary","region":"local"}',
        '{"command":"unlock","args":{"sessionId":null,"durationMs":5000}}',
        '{"config":{"heartbeatIntervalMs":1000}}',
        '{"description":"x","tagQuery":[]}',
        '{"subject":"eve","role":"admin"}',
      ]);
    } else if (kind === 2) {
      // malformed bodies
      [method, path] = pick(mutating);
      body = rand() < 0.05 ? "x".repeat(300_000) : pick(junkBodies);
    } else if (kind === 3) {
      // bad ids in paths, including traversal
      const id = pick(badIds);
      [method, path] = pick([
        ["GET", `/devices/${id}`],
        ["PUT", `/devices/${id}`],
        ["GET", `/commands/${id}`],
        ["PATCH", `/devices/${id}/shadow/desired`],
        [
          "GET",
          `/${id}`,
        ],
      ]);
      body = '{"machineId":"m001","role":"primary","region":"local"}';
    } else if (kind === 4) {
      // bad queries
      path = pick([
        "/devices?limit=abc",
        "/devices?limit=0",
        "/devices?status=broken",
        "/devices?cursor=%25%25",
        "/devices?region=EU",
        "/audit?after=-1",
        "/alerts?kind=meteor",
      ]);
    } else {
      // stale or malformed If-Match, wrong content type, unknown methods
      [method, path] = pick([["PUT", "/devices/m001-a"], ["DELETE", "/devices/m001-a"], [
        "POST",
        "/devices",
      ], ["PUT", "/nothing"]]);
      headers["if-match"] = pick(['"999999"', "garbage", '"0"', "*"]);
      body = '{"machineId":"m001","role":"primary","region":"local","tags":[],"groups":[]}';
    }
    const res = await fetch(`${svc.url}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...headers,
      },
      ...(body !== undefined && method !== "GET" ? { body } : {}),
    });
    await res.body?.cancel();
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    assert.ok(
      res.status >= 400 && res.status < 500,
      `${method} ${path} (${kind}) answered ${res.status}`,
    );
  }
  assert.equal(n, 600);
  assert.ok(
    (statuses.get(401) ?? 0) > 50 && (statuses.get(403) ?? 0) > 10 && (statuses.get(400) ?? 0) > 50,
    JSON.stringify([...statuses]),
  );
  assert.equal(await snapshot(nc), before, "the fleet state is unchanged");
});

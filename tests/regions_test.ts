/**
 * Two regions on a supercluster (3 servers each and a witness, real nats-server): a region's
 * outage and return with a real agent in a simulated cabinet and a cloud service per region; a
 * deployment to devices of both regions.
 */
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { fixedPrices, KvSandboxStore, PaymentService } from "../cloud/checkout/mod.ts";
import { serveObjectCommits } from "../cloud/fleet/mod.ts";
import { type CloudService, startCloudService } from "../cloud/mod.ts";
import {
  coherenceOf,
  ensureObjectMirror,
  ensureStreams,
  openKv,
  useRegionLayout,
} from "../cloud/nats/mod.ts";
import { loadCommandKey } from "../cloud/provisioning/mod.ts";
import { ComponentRegistry, DeploymentService } from "../cloud/updates/mod.ts";
import { uploadBlob } from "../edge/recording/mod.ts";
import { SimulatedUpdateDevice } from "../edge/sim/mod.ts";
import { fetchArtifacts, FileChunkStore } from "../edge/updates/mod.ts";
import { DEFAULT_CATALOGUE } from "../models/mod.ts";
import { priceList, SandboxProvider } from "../payments/mod.ts";
import {
  buckets,
  filters,
  kvStreamOf,
  parsePaymentEvent,
  type PaymentEvent,
  signedManifest,
  streamName,
} from "../protocol/mod.ts";
import { eventually, simulatedCabinet } from "./edge_harness.ts";
import { apiClient, startTestCluster, streamMessages } from "./harness.ts";

/** How a region's reads of a mirror were answered (for a failure's message). */
function describe(c: ReturnType<typeof coherenceOf>): string {
  return c
    ? JSON.stringify({
      answered: c.answered,
      freshAgoMs: Date.now() - c.freshAsOf,
      downForMs: c.originDownUntil - Date.now(),
      lastError: c.lastError,
    })
    : "none";
}

/** Every payment event of `region` so far (its PAYMENTS stream). */
function paymentEvents(nc: NatsConnection, region: string): Promise<PaymentEvent[]> {
  return streamMessages(nc, streamName("PAYMENTS", region), parsePaymentEvent);
}

async function settled(svc: CloudService, api: ReturnType<typeof apiClient>, id: string) {
  let last = "";
  return await eventually(
    async () => {
      const s = await api("GET", `/payments/sessions/${id}`);
      last = s.body.state;
      return s.body.state === "settled" ? s.body : undefined;
    },
    60_000,
    `session ${id} settled in ${svc.url}`,
  ).catch((e) => {
    throw new Error(`${(e as Error).message} (last state ${last})`);
  });
}
Deno.test({
  name:
    "a region goes down: its machine fails over and keeps selling, every session settles once, and it goes home",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using cluster = await startTestCluster(["eu", "us"]);
    const { sc } = cluster;
    const cloud = (region: string) =>
      startCloudService(sc.target(region), {
        region,
        supercluster: { primary: "eu" },
        // What goes wrong is shown (a failure under load is otherwise hard to read).
        logger: {
          log: (level, msg, fields) => {
            if (level === "warn" || level === "error") {
              console.log(`cloud ${region} ${level}: ${msg} ${JSON.stringify(fields ?? {})}`);
            }
          },
        },
        offlineAfterMs: 3000,
        summaryEveryMs: 1000,
        payments: { reconcileEveryMs: 500 },
      });
    await using eu = await cloud("eu");
    await using us = await cloud("us");
    const euApi = apiClient(eu.url, await eu.tokens.issue({ subject: "t", role: "operator" }));
    const usApi = apiClient(us.url, await us.tokens.issue({ subject: "t", role: "operator" }));
    const cloudNc = await cluster.connect("us");

    // A machine of eu: its servers first, us's as failover.
    const issued = await sc.accounts!.deviceCredentials({
      region: "eu",
      deviceId: "m001-a",
      peers: [],
    });
    const creds = `${sc.dataDir}/m001-a.creds`;
    await Deno.writeFile(creds, issued.creds!, { mode: 0o600 });
    const key = await loadCommandKey(await new Kvm(cloudNc).open(buckets.service));
    await using cabinet = await simulatedCabinet(sc.url("eu"), {
      seed: 7,
      config: {
        region: "eu",
        commands: { trustedKeys: [key.trusted] },
        nats: {
          servers: sc.url("eu").split(","),
          failover: sc.url("us").split(","),
          caFile: sc.caFile,
          credentialsFile: creds,
        },
      },
      isOnline: () => eu.state.statuses.get("m001-a")?.value.status === "online",
      log: (line) => {
        if (line.level !== "debug") console.log(`agent: ${JSON.stringify(line)}`);
      },
    });

    // The customer registers once (the registry's customers are global).
    const c = await euApi("POST", "/customers", { email: "ada@example.com" });
    assert.equal(c.status, 201, JSON.stringify(c.body));
    const customerId = c.body.customerId as string;
    assert.equal(
      (await euApi("POST", `/customers/${customerId}/payment-methods`, {
        token: "pm_sandbox_visa",
      })).status,
      201,
    );

    // The machine is registered in eu, its home, and sells at its own price list (both in the
    // global registry, written in eu, its primary region).
    const adminApi = apiClient(eu.url, await eu.tokens.issue({ subject: "a", role: "admin" }));
    const registered = await adminApi("PUT", "/devices/m001-a", {
      machineId: "m001",
      role: "primary",
      region: "eu",
    });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    const shop = await adminApi("PUT", "/price-lists/eu-shop", {
      currency: "EUR",
      items: [...(await eu.payments.standardPrices()).items].map(([sku, item]) => ({
        sku,
        name: item.name,
        unitPrice: item.unitPrice + 5,
      })),
    });
    assert.equal(shop.status, 200, JSON.stringify(shop.body));
    assert.equal(
      (await adminApi("PUT", "/machines/m001/price-list", { priceList: "eu-shop" })).status,
      200,
    );
    // us reads it from its mirror (waiting for the mirror, which an instant write may precede).
    await eventually(
      async () =>
        (await usApi("GET", "/machines/m001/prices")).body.version ===
          `eu-shop@${shop.body.revision}` || undefined,
      10_000,
      "us's mirror has the price list",
    );

    const step = (m: string) => console.log(`step: ${m}`);
    step("online in eu");
    // us sees eu's device online, from the summary eu's cloud writes.
    type RegionItem = {
      id: string;
      online: number;
      source: string;
      stale: boolean;
      homes: Record<string, { online: number }>;
    };
    const regionIn = async (api: typeof usApi, id: string) =>
      ((await api("GET", "/regions")).body.items as RegionItem[]).find((r) => r.id === id);
    await eventually(
      async () => {
        const r = await regionIn(usApi, "eu");
        return r?.online === 1 && r.source === "summary" && !r.stale || undefined;
      },
      10_000,
      "us's /regions shows eu's device online",
    );
    // 1. A sale in eu, while all is well.
    const first = await euApi("POST", "/payments/sessions", { customerId, machineId: "m001" });
    assert.equal(first.body.state, "unlocked", JSON.stringify(first.body));
    await settled(eu, euApi, first.body.sessionId);

    // 2. Another customer is at the door when every eu server dies: this session is eu's, its
    //    cart waits in the device's outbox for eu.
    await eventually(
      () => cabinet.hardware.door.state === "closed" ? true : undefined,
      20_000,
      "the door closed",
    );
    const inFlight = await euApi("POST", "/payments/sessions", { customerId, machineId: "m001" });
    assert.equal(inFlight.body.state, "unlocked", JSON.stringify(inFlight.body));
    await eventually(
      () => cabinet.hardware.door.state === "open" ? true : undefined,
      10_000,
      "the door opened",
    );
    step("in-flight session's door open; eu goes down");
    await sc.stopRegion("eu");
    const downAt = Date.now();

    // 3. The device fails over to us and reports there: us's cloud sees it online.
    await eventually(
      () => us.state.statuses.get("m001-a")?.value.status === "online" ? true : undefined,
      15_000,
      "the device online in us",
    );
    console.log(`heard in us ${Date.now() - downAt} ms after eu went down`);

    // 4. It keeps selling: a session through us's cloud is settled there.
    await eventually(
      () => cabinet.hardware.door.state === "closed" ? true : undefined,
      20_000,
      "the in-flight session's door closed",
    );
    step("a session through us");
    const during = await usApi("POST", "/payments/sessions", { customerId, machineId: "m001" });
    assert.equal(during.status, 201, JSON.stringify(during.body));
    assert.equal(during.body.state, "unlocked", JSON.stringify(during.body));
    // us serves eu's device now (live), and eu's own summary has gone stale.
    const served = await regionIn(usApi, "us");
    assert.deepEqual([served?.source, served?.homes.eu?.online], ["live", 1]);
    await eventually(
      async () => (await regionIn(usApi, "eu"))?.stale || undefined,
      10_000,
      "eu's summary stale while eu is down",
    );
    // Priced by the global registry's price list, read from us's mirror while eu is down.
    assert.deepEqual(during.body.priceList, { id: "eu-shop", revision: shop.body.revision });
    const paid = await settled(us, usApi, during.body.sessionId);
    for (const line of paid.receiptLines ?? []) {
      const listed = shop.body.items.find((i: { sku: string }) => i.sku === line.sku);
      assert.equal(line.unitPrice, listed?.unitPrice, `${line.sku} at eu-shop's price`);
    }
    assert.equal(
      (await usApi("GET", `/payments/sessions/${inFlight.body.sessionId}`)).status,
      404,
      "eu's session is not us's to settle",
    );

    // 5. eu comes back: the waiting cart is delivered there and its session settles, once.
    step("eu comes back");
    const backAt = Date.now();
    await sc.startRegion("eu");
    await sc.waitForJetStream("eu");
    await settled(eu, euApi, inFlight.body.sessionId).catch(async (e) => {
      // What was where, to read a failure.
      const jsm = await jetstreamManager(cloudNc);
      const stream = streamName("EVENTS", "eu");
      const events = await jsm.streams.info(stream).catch((x) => String(x));
      const consumer = await jsm.consumers.info(stream, "payments").catch((x) => String(x));
      throw new Error(
        `${(e as Error).message}; outbox ${JSON.stringify(cabinet.agent.outbox.stats())} ${
          JSON.stringify(cabinet.agent.outbox.peek(5).map((x) => x.subject))
        }; ${stream} ${JSON.stringify(typeof events === "string" ? events : events.state)}; ` +
          `payments consumer ${
            JSON.stringify(
              typeof consumer === "string"
                ? consumer
                : [consumer.num_pending, consumer.num_ack_pending, consumer.delivered],
            )
          }`,
      );
    });
    step("the in-flight session settled in eu");
    // The device goes home: its heartbeats come from eu's servers again.
    const euNc = await cluster.connect("eu");
    let home = false;
    euNc.subscribe(filters.heartbeats({ region: "eu", deviceId: "m001-a" }), {
      max: 1,
      callback: () => {
        home = true;
      },
    });
    await eventually(() => home || undefined, 20_000, "a heartbeat from home");
    console.log(`home again ${Date.now() - backAt} ms after eu came back`);

    // Once each: one capture and one receipt per session, each in its own region.
    const euEvents = await paymentEvents(euNc, "eu");
    const usEvents = await paymentEvents(euNc, "us");
    const count = (events: PaymentEvent[], sessionId: string, type: string) =>
      events.filter((e) => e.sessionId === sessionId && e.type === type).length;
    for (const id of [first.body.sessionId, inFlight.body.sessionId]) {
      assert.equal(count(euEvents, id, "captured"), 1, `${id} captured once in eu`);
      assert.equal(count(euEvents, id, "receipt_issued"), 1);
      assert.equal(count(usEvents, id, "captured"), 0);
    }
    assert.equal(count(usEvents, during.body.sessionId, "captured"), 1);
    assert.equal(count(usEvents, during.body.sessionId, "receipt_issued"), 1);
    assert.equal(count(euEvents, during.body.sessionId, "captured"), 0);

    // The global registry takes writes again in eu, and us's mirror of it catches up.
    const registry = await openKv(eu.nc, buckets.registry, { history: 5 });
    await registry.put("group.after-outage", JSON.stringify({ name: "after the outage" }));
    await eventually(
      async () =>
        (await (await openKv(us.nc, buckets.registry, { history: 5 })).get(
          "group.after-outage",
        ))?.string(),
      10_000,
      "us's mirror of the registry caught up",
    );
    // And us's device state never went to eu: each region keeps its own.
    const jsm = await jetstreamManager(euNc);
    assert.deepEqual(
      (await jsm.streams.info("KV_status_us")).cluster?.name,
      "us",
      "us's statuses are on us's servers",
    );
  },
});

Deno.test({
  name: "a deployment to a group spanning two regions completes in both",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using cluster = await startTestCluster(["eu", "us"]);
    const regions = ["eu", "us"] as const;
    const ncs = new Map<string, NatsConnection>();
    for (const region of regions) {
      const nc = await cluster.connect(region);
      useRegionLayout(nc, { region, primary: "eu", replicas: 3, placement: true });
      await ensureStreams(nc, region);
      ncs.set(region, nc);
    }
    const eu = ncs.get("eu")!;
    const registry = await ComponentRegistry.open(eu);
    const signed = await registry.publish({
      component: "detector",
      version: "2.0.0",
      kind: "model",
      platform: { arch: ["x86_64", "aarch64"] },
    }, [{ name: "model.onnx", data: new Uint8Array(300_000).fill(7) }]);
    const trustedKeys = await registry.trustedKeys();
    const devices = [
      { id: "shop-eu-a", region: "eu", tags: [], groups: ["shops"] },
      { id: "shop-us-a", region: "us", tags: [], groups: ["shops"] },
      // Registered in us but switched off: what it is given stays queued.
      { id: "shop-us-off", region: "us", tags: [], groups: [] },
    ];
    const root = await Deno.makeTempDir({ prefix: "vend-regions-" });
    const sims = await Promise.all(
      devices.filter((d) => d.groups.length > 0).map((d) =>
        SimulatedUpdateDevice.start(ncs.get(d.region)!, {
          deviceId: d.id,
          region: d.region,
          dir: `${root}/${d.id}`,
          trustedKeys,
        })
      ),
    );
    const stop = new AbortController();
    // What the services say (warnings of failed ticks...), printed when the test fails.
    const said: string[] = [];
    const services = await Promise.all(regions.map(async (region) => {
      const nc = ncs.get(region)!;
      const service = await DeploymentService.open(nc, {
        logger: {
          log: (level, msg, fields) =>
            void said.push(`${region} ${level} ${msg} ${JSON.stringify(fields ?? {})}`),
        },
        region,
        regional: true,
        artifactsStream: await ensureObjectMirror(nc, buckets.artifacts),
        jsm: await jetstreamManager(nc),
        devices: () => devices,
      });
      void service.run(nc, stop.signal, { tickMs: 300 });
      return service;
    }));
    try {
      const d = await services[0]!.create({
        targets: [{ component: "detector", version: "2.0.0" }],
        selector: { groups: ["shops"] },
        policy: { canary: 1, ratePerMinute: 60 },
      });
      assert.deepEqual([...d.devices].sort(), ["shop-eu-a", "shop-us-a"]);
      let last = "";
      const done = await eventually(
        async () => {
          const now = await services[1]!.get(d.id);
          last = JSON.stringify({ state: now?.state, in: now?.assignedIn, counts: now?.counts });
          return now?.state === "completed" ? now : undefined;
        },
        60_000,
        "the deployment completed",
      ).catch(async (e) => {
        const entries = await Promise.all(
          devices.map(async (x) => {
            const entry = await services[0]!.device(d.id, x.id);
            return [x.id, entry?.status, entry?.reason];
          }),
        );
        // Where a device stopped: what it was told, and what it said.
        const usShadow = await openKv(ncs.get("us")!, buckets.shadow, { history: 5 });
        const told = (await usShadow.get("shop-us-a.desired").catch(() => null))?.string();
        const updates = streamName("UPDATES", "us");
        const said = await (await jetstreamManager(ncs.get("us")!)).streams
          .info(updates, { subjects_filter: ">" }).then((i) => i.state.subjects, String);
        throw new Error(
          `${(e as Error).message}; last seen ${last}; ${JSON.stringify(entries)}; ` +
            `us desired ${told}; ${updates} subjects ${JSON.stringify(said)}`,
        );
      });
      assert.equal(
        done.counts.healthy,
        2,
        `${JSON.stringify(done.counts)}; us's mirror of deployment_devices ${
          describe(coherenceOf(ncs.get("us")!, buckets.deploymentDevices))
        }`,
      );
      // The us device read the artifacts from its region's mirror, which holds them.
      const usShadow = await openKv(ncs.get("us")!, buckets.shadow, { history: 5 });
      const desired = (await usShadow.get("shop-us-a.desired"))?.json<
        { state: { deployment?: { artifacts?: string } } }
      >();
      assert.equal(desired?.state.deployment?.artifacts, "OBJ_artifacts_mirror_us");
      const mirror = await (await jetstreamManager(eu)).streams.info("OBJ_artifacts_mirror_us");
      assert.equal(mirror.cluster?.name, "us");
      assert.ok(mirror.state.messages > 0);
      // A device of us, with its own credentials, reads the version from that mirror.
      const device = await cluster.connectDevice({ deviceId: "shop-us-b", region: "us" });
      const got = await fetchArtifacts(device, signedManifest.encode(signed), {
        trustedKeys,
        chunks: new FileChunkStore(`${root}/device-chunks`),
        outDir: `${root}/device-out`,
        stream: "OBJ_artifacts_mirror_us",
      });
      assert.equal((await Deno.readFile(got.files["model.onnx"]!)).length, 300_000);

      // Cancelled in eu, a deployment is taken back from us's device that had not started it.
      const off = await services[0]!.create({
        targets: [{ component: "detector", version: "2.0.0" }],
        selector: { devices: ["shop-us-off"] },
      });
      let seen = "";
      await eventually(
        async () => {
          const now = await services[1]!.get(off.id);
          seen = JSON.stringify({ state: now?.state, in: now?.assignedIn, counts: now?.counts });
          return (await services[0]!.device(off.id, "shop-us-off"))?.status === "queued" ||
            undefined;
        },
        20_000,
        "us's instance gave it to its device",
      ).catch(async (e) => {
        throw new Error(
          `${(e as Error).message}; us saw ${seen}; entry ${
            JSON.stringify(await services[0]!.device(off.id, "shop-us-off"))
          }; d1 ${d.id} d2 ${off.id}`,
        );
      });
      await services[0]!.cancel(off.id);
      await eventually(
        async () =>
          (await services[0]!.device(off.id, "shop-us-off"))?.status === "cancelled" || undefined,
        20_000,
        "us's instance took it back",
      ).catch(async (e) => {
        // Who holds what: the original (eu's leader) and us's mirror, raw, with revisions.
        const raw = async (nc: NatsConnection, stream: string) => {
          const jsm = await jetstreamManager(nc);
          const info = await jsm.streams.info(stream).catch(String);
          const m = await jsm.streams.getMessage(stream, {
            last_by_subj: `$KV.${buckets.deployments}.${off.id}`,
          }).catch(String);
          return {
            lastSeq: typeof info === "string" ? info : info.state.last_seq,
            entry: typeof m === "string" || m === null
              ? m
              : { seq: m.seq, state: m.json<{ state: string }>().state },
          };
        };
        const held = {
          original: await raw(eu, kvStreamOf(buckets.deployments)),
          mirrorUs: await raw(ncs.get("us")!, `${kvStreamOf(buckets.deployments)}_mirror_us`),
          euReads: (await services[0]!.get(off.id))?.state,
        };
        throw new Error(
          `${(e as Error).message}; held ${JSON.stringify(held)}; ` +
            `us reads ${JSON.stringify(await services[1]!.get(off.id))}, ` +
            `entry ${JSON.stringify(await services[1]!.device(off.id, "shop-us-off"))}; us's ` +
            `mirror of deployments ${
              describe(coherenceOf(ncs.get("us")!, buckets.deployments))
            }; said ${JSON.stringify(said.slice(-20))}`,
        );
      });
      const offDesired = (await usShadow.get("shop-us-off.desired"))?.json<
        { state: { deployment?: unknown } }
      >();
      assert.equal(offDesired?.state.deployment, undefined, "no deployment left in its shadow");
    } finally {
      stop.abort();
      for (const s of sims) await s[Symbol.asyncDispose]();
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "a session sold in a failover region finds its machine's clips in the home region's store",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using cluster = await startTestCluster(["eu", "us"]);
    const eu = await cluster.connect("eu");
    const us = await cluster.connect("us");
    for (const [nc, region] of [[eu, "eu"], [us, "us"]] as const) {
      useRegionLayout(nc, { region, primary: "eu", replicas: 3, placement: true });
      await ensureStreams(nc, region);
    }
    const stop = new AbortController();
    await serveObjectCommits(eu, { region: "eu", signal: stop.signal });
    try {
      // m001 is a cabinet of eu (its devices' credentials say so, in the global registry).
      const credentials = await openKv(eu, buckets.deviceCredentials, { history: 5 });
      for (const [deviceId, peer] of [["m001-a", "m001-b"], ["m001-b", "m001-a"]]) {
        await credentials.put(
          deviceId!,
          JSON.stringify({
            deviceId,
            machineId: "m001",
            role: deviceId!.endsWith("-a") ? "primary" : "secondary",
            region: "eu",
            peers: [peer],
            publicKey: "U".padEnd(56, "A"),
            batchId: "batch-0001",
            serial: `sn-${deviceId}`,
            expiresAt: Date.now() + 86_400_000,
            revokedAt: null,
          }),
        );
      }
      // eu is down for it: the machine sells through us's cloud.
      const payments = await PaymentService.open(us, {
        region: "us",
        provider: new SandboxProvider(await KvSandboxStore.open(us)),
        prices: fixedPrices(priceList(DEFAULT_CATALOGUE)),
        unlocker: {
          unlock: (_machineId, sessionId) =>
            Promise.resolve({ deviceId: "m001-a", commandId: `cmd-${sessionId.slice(4, 20)}` }),
        },
      });
      const customer = await payments.registerCustomer({ email: "ada@example.com" });
      await payments.addPaymentMethod(customer.customerId, { token: "pm_sandbox_visa" });
      const session = await payments.start({ customerId: customer.customerId, machineId: "m001" });
      assert.equal(session.state, "unlocked", JSON.stringify(session));
      // Its devices upload their clips at home, with their own credentials; so does a device of
      // another cabinet naming the same session.
      const clip = (device: string) => `${device}/${session.sessionId}/cam-1-0.mp4`;
      const data = new Uint8Array(70_000).map((_, i) => (i * 7) % 251);
      for (const device of ["m001-b", "m009-a"]) {
        const nc = await cluster.connectDevice({ deviceId: device, region: "eu" });
        await uploadBlob(nc, data, {
          region: "eu",
          deviceId: device,
          bucket: "clips",
          object: clip(device),
        });
        await nc.close();
      }
      // us finds the cabinet's clip in eu's store (once its mirror has the credentials).
      const found = await eventually(
        async () => {
          const clips = await payments.clips(session.sessionId);
          return clips.length > 0 ? clips : undefined;
        },
        20_000,
        "us finds the clip",
      );
      assert.deepEqual(found.map((c) => [c.name, c.region]), [[clip("m001-b"), "eu"]]);
      assert.deepEqual(await payments.clip(session.sessionId, clip("m001-b")), data);
      assert.equal(await payments.clip(session.sessionId, clip("m009-a")), null);
    } finally {
      stop.abort();
    }
  },
});

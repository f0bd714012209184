/** Component versions: publishing, signing, and the device's verified, resumable, delta download. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { jetstreamManager } from "@nats-io/jetstream";
import { Objm } from "@nats-io/obj";
import { ComponentError, ComponentRegistry } from "../cloud/updates/mod.ts";
import { OtaSlots } from "../edge/mod.ts";
import {
  ArtifactVerifyError,
  fetchArtifacts,
  FileChunkStore,
  Updater,
  type UpdateStep,
} from "../edge/updates/mod.ts";
import { eventually } from "./edge_harness.ts";
import { generateSigningKey, SignatureError, signedManifest } from "../protocol/mod.ts";
import { startTestNats } from "./harness.ts";

/** Deterministic noise (xorshift32). */
function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    for (let k = 0; k < 4 && i + k < n; k++) out[i + k] = (x >>> (8 * k)) & 255;
  }
  return out;
}

/** An archive-like artifact: files of `sizes` bytes one after another. */
function archive(files: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(files.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of files) {
    out.set(f, at);
    at += f.length;
  }
  return out;
}

const recipe = (version: string, extra: Record<string, unknown> = {}) => ({
  component: "detector",
  version,
  kind: "model",
  platform: { arch: ["x86_64", "aarch64"] },
  ...extra,
});

async function dirs() {
  const root = await Deno.makeTempDir({ prefix: "vend-ota-" });
  const chunkDir = `${root}/chunks`;
  return { chunks: new FileChunkStore(chunkDir), chunkDir, outDir: `${root}/out`, root };
}

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) out.push(e.name);
  } catch { /* missing */ }
  return out.sort();
}

Deno.test("a published version downloads whole and verified; the next one downloads only what changed", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  const registry = await ComponentRegistry.open(nc);
  const parts = [1, 2, 3, 4, 5].map((i) => noise(600_000, 2 * i + 1));
  const v1 = archive(parts);
  const s1 = await registry.publish(recipe("1.0.0"), [{ name: "model.bin", data: v1 }]);
  const d = await dirs();
  const trustedKeys = await registry.trustedKeys();
  const got1 = await fetchArtifacts(nc, signedManifest.encode(s1), { ...d, trustedKeys });
  assert.deepEqual(await Deno.readFile(got1.files["model.bin"]!), v1);
  assert.equal(got1.bytesDownloaded, v1.length);
  assert.equal(got1.bytesSaved, 0);
  assert.equal(got1.manifest.recipe.version, "1.0.0");
  // Version 2 changes one "file" in the middle.
  const v2 = archive([parts[0]!, parts[1]!, noise(600_000, 99), parts[3]!, parts[4]!]);
  const s2 = await registry.publish(recipe("1.1.0"), [{ name: "model.bin", data: v2 }]);
  const got2 = await fetchArtifacts(nc, signedManifest.encode(s2), {
    ...d,
    outDir: `${d.root}/out2`,
    trustedKeys,
  });
  assert.deepEqual(await Deno.readFile(got2.files["model.bin"]!), v2);
  assert.equal(got2.bytesDone, v2.length);
  assert.equal(got2.bytesSaved + got2.bytesDownloaded, v2.length);
  assert.ok(got2.bytesSaved / v2.length > 0.7, `saved only ${got2.bytesSaved} of ${v2.length}`);
  assert.ok(got2.bytesDownloaded < 1_000_000, `downloaded ${got2.bytesDownloaded}`);
});

Deno.test("a device refuses an unsigned, unknown-key or tampered manifest before downloading anything", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  const registry = await ComponentRegistry.open(nc);
  const signed = await registry.publish(recipe("1.0.0"), [{ name: "m.bin", data: noise(1000, 1) }]);
  const stranger = await generateSigningKey();
  const cases: Array<[string, string, RegExp, typeof stranger.trusted[]]> = [
    ["unsigned", signed.manifest, /unsigned or malformed/, await registry.trustedKeys()],
    ["unknown key", JSON.stringify(signed), /unknown key/, [stranger.trusted]],
    [
      "tampered",
      JSON.stringify({ ...signed, manifest: signed.manifest.replace('"1.0.0"', '"1.0.1"') }),
      /does not match/,
      await registry.trustedKeys(),
    ],
  ];
  for (const [what, input, why, trustedKeys] of cases) {
    const d = await dirs();
    await assert.rejects(
      () => fetchArtifacts(nc, input, { ...d, trustedKeys }),
      (e) => e instanceof SignatureError && why.test(e.message),
      what,
    );
    assert.deepEqual(await files(d.chunkDir), [], `${what}: nothing downloaded`);
  }
});

Deno.test("a corrupt or missing chunk in the store is refused and nothing is assembled", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  const registry = await ComponentRegistry.open(nc);
  const data = noise(400_000, 5);
  const signed = await registry.publish(recipe("1.0.0"), [{ name: "m.bin", data }]);
  const trustedKeys = await registry.trustedKeys();
  const chunks = JSON.parse(signed.manifest).artifacts[0].chunks as Array<{ sha256: string }>;
  assert.ok(chunks.length >= 3);
  const store = await new Objm(nc).open("artifacts");
  // Corrupt: the chunk's object holds other bytes.
  await store.putBlob({ name: chunks[1]!.sha256 }, noise(1000, 6));
  const d = await dirs();
  await assert.rejects(
    () => fetchArtifacts(nc, JSON.stringify(signed), { ...d, trustedKeys }),
    (e) => e instanceof ArtifactVerifyError && /corrupt/.test(e.message),
  );
  assert.deepEqual(await files(d.outDir), []);
  // Truncated: a chunk is gone.
  await store.delete(chunks[1]!.sha256);
  await assert.rejects(
    () => fetchArtifacts(nc, JSON.stringify(signed), { ...d, trustedKeys }),
    (e) => e instanceof ArtifactVerifyError && /missing/.test(e.message),
  );
  assert.deepEqual(await files(d.outDir), []);
});

Deno.test("a chunk a lagging replica does not hold yet is read from the stream's leader", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  const registry = await ComponentRegistry.open(nc);
  const data = noise(1_000_000, 12);
  const signed = JSON.stringify(
    await registry.publish(recipe("1.0.0"), [{ name: "m.bin", data }]),
  );
  const trustedKeys = await registry.trustedKeys();
  // Replicas that are behind, as a region's mirror follower can be: each answers direct gets
  // of OBJ_artifacts (mirror_direct) and holds the chunks' metadata but none of their bytes, so
  // seven in eight direct gets of a chunk's message find nothing.
  const jsm = await jetstreamManager(nc);
  for (let i = 0; i < 7; i++) {
    await jsm.streams.add({
      name: `LAGGING_${i}`,
      mirror: { name: "OBJ_artifacts", filter_subject: "$O.artifacts.M.>" },
      mirror_direct: true,
      allow_direct: true,
      // Metadata messages roll up their subject.
      allow_rollup_hdrs: true,
    });
  }
  const metas = Object.keys(
    (await jsm.streams.info("OBJ_artifacts", { subjects_filter: "$O.artifacts.M.>" })).state
      .subjects ?? {},
  ).length;
  assert.ok(metas > 10, `${metas} chunks`);
  for (let i = 0; i < 7; i++) {
    await eventually(
      async () => (await jsm.streams.info(`LAGGING_${i}`)).state.messages === metas || undefined,
      10_000,
      `LAGGING_${i} holds the metadata`,
    );
  }
  const d = await dirs();
  const got = await fetchArtifacts(nc, signed, { ...d, trustedKeys });
  assert.deepEqual(await Deno.readFile(got.files["m.bin"]!), data);
  assert.equal(got.bytesDownloaded, data.length);
});

Deno.test("an interrupted download resumes from the last verified chunk", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  const registry = await ComponentRegistry.open(nc);
  const data = noise(1_500_000, 8);
  const signed = JSON.stringify(
    await registry.publish(recipe("1.0.0"), [{ name: "m.bin", data }]),
  );
  const trustedKeys = await registry.trustedKeys();
  const d = await dirs();
  let n = 0;
  await assert.rejects(() =>
    fetchArtifacts(nc, signed, {
      ...d,
      trustedKeys,
      beforeChunk: () => {
        if (++n === 6) throw new Error("power lost");
      },
    }), /power lost/);
  const kept = await files(d.chunkDir);
  assert.equal(kept.length, 5);
  assert.ok(kept.every((f) => !f.endsWith(".part")));
  const again = await fetchArtifacts(nc, signed, { ...d, trustedKeys });
  assert.ok(again.bytesSaved > 0 && again.bytesSaved + again.bytesDownloaded === data.length);
  assert.deepEqual(await Deno.readFile(again.files["m.bin"]!), data);
});

Deno.test("the registry refuses bad recipes, unknown dependencies, cycles and repeats, publishing nothing", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  const registry = await ComponentRegistry.open(nc);
  const art = [{ name: "a.bin", data: noise(100, 1) }];
  const refuse = async (r: unknown, a: typeof art, field: string, why: RegExp) => {
    await assert.rejects(
      () => registry.publish(r, a),
      (e) => e instanceof ComponentError && e.field === field && why.test(e.message),
      field,
    );
  };
  await refuse(recipe("1.0"), art, "version", /semantic version/);
  await refuse(recipe("1.0.0", { kind: "firmware" }), art, "kind", /Invalid option/);
  await refuse(
    recipe("1.0.0", { dependencies: { labels: "^1.0.0" } }),
    art,
    "dependencies.labels",
    /No published version/,
  );
  await refuse(recipe("1.0.0"), [], "artifacts", /at least one/);
  await refuse(recipe("1.0.0"), [...art, ...art], "artifacts[1].name", /twice/);
  assert.deepEqual(await registry.versions("detector"), []);
  await registry.publish({ ...recipe("1.0.0"), component: "labels", kind: "config" }, art);
  await registry.publish(recipe("1.0.0", { dependencies: { labels: "^1.0.0" } }), art);
  // labels 2.0.0 depending on detector ^1.0.0 would close a cycle through detector 1.0.0.
  await refuse(
    {
      ...recipe("1.1.0"),
      component: "labels",
      kind: "config",
      dependencies: { detector: "^1.0.0" },
    },
    art,
    "dependencies",
    /cycle: labels -> detector -> labels/,
  );
  // A cycle that closes two steps down the chain: labels -> tracker -> detector -> labels.
  await registry.publish(
    { ...recipe("1.0.0"), component: "tracker", dependencies: { detector: "^1.0.0" } },
    art,
  );
  await refuse(
    {
      ...recipe("1.2.0"),
      component: "labels",
      kind: "config",
      dependencies: { tracker: "^1.0.0" },
    },
    art,
    "dependencies",
    /cycle: labels -> tracker -> detector -> labels/,
  );
  await refuse(recipe("1.0.0"), art, "version", /already published/);
  assert.deepEqual(await registry.versions("labels"), ["1.0.0"]);
});

Deno.test("the registry streams uploads into NATS and refuses one past its size limit, keeping nothing", async () => {
  await using nats = await startTestNats();
  const nc = await nats.connect();
  const registry = await ComponentRegistry.open(nc);
  const target = { component: "agent", version: "0.2.0", name: "firmware-aarch64.tar" };
  const data = new Uint8Array(300_000).map((_, i) => i % 251);
  const got = await registry.upload(target, new Blob([data]).stream(), { maxBytes: 1 << 20 });
  assert.equal(got.bytes, data.length);
  assert.equal(got.sha256, createHash("sha256").update(data).digest("hex"));
  assert.deepEqual(await registry.uploaded(target), data);
  await registry.dropUpload(target);
  assert.equal(await registry.uploaded(target), undefined);
  const big = { ...target, name: "big.tar" };
  await assert.rejects(
    () => registry.upload(big, new Blob([data]).stream(), { maxBytes: 100_000 }),
    (e) => e instanceof RangeError && /"big.tar" is larger than 100000 bytes/.test(e.message),
  );
  assert.equal(await registry.uploaded(big), undefined, "nothing kept");
  await nc.close();
});

Deno.test("after a key rotation new versions are signed by the new key; devices pinned to both accept them", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  const registry = await ComponentRegistry.open(nc);
  const art = [{ name: "a.bin", data: noise(100, 1) }];
  const old = await registry.trustedKeys();
  const s1 = await registry.publish(recipe("1.0.0"), art);
  const fresh = await registry.rotateKey();
  const s2 = await registry.publish(recipe("1.1.0"), art);
  assert.equal(s1.keyId, old[0]!.keyId);
  assert.equal(s2.keyId, fresh.keyId);
  const both = await registry.trustedKeys();
  assert.equal(both.length, 2);
  const d = await dirs();
  await fetchArtifacts(nc, JSON.stringify(s2), { ...d, trustedKeys: both });
  await assert.rejects(
    () => fetchArtifacts(nc, JSON.stringify(s2), { ...d, trustedKeys: old }),
    /unknown key/,
  );
  await registry.retireKey(old[0]!.keyId);
  assert.deepEqual((await registry.trustedKeys()).map((k) => k.keyId), [fresh.keyId]);
  await assert.rejects(() => registry.retireKey(fresh.keyId), /active signer/);
});

Deno.test("an update whose NATS server restarts mid-download resumes and completes", async () => {
  await using nats = await startTestNats();
  await using cloud = await nats.connect();
  // The device downloads with its own credentials, reconnecting when the server is back.
  await using nc = await nats.connectDevice({ deviceId: "m001-a" }, { reconnect: true });
  {
    const registry = await ComponentRegistry.open(cloud);
    const data = noise(20_000_000, 21);
    await registry.publish(recipe("1.0.0"), [{ name: "model.bin", data }]);
    const root = await Deno.makeTempDir({ prefix: "vend-ota-restart-dev-" });
    const steps: UpdateStep[] = [];
    const updater = new Updater({
      slots: await OtaSlots.open(root),
      deviceId: "m001-a",
      agentVersion: "0.1.0",
      agentArgs: [],
      trustedKeys: await registry.trustedKeys(),
      supervised: false,
      progress: (s) => steps.push(s),
      log: () => {},
    });
    const handling = updater.handle(nc, {
      deploymentId: "dep-restart-1",
      targets: [{ component: "detector", version: "1.0.0" }],
    });
    // Restart the server once some chunks are in.
    await eventually(
      () => {
        try {
          return [...Deno.readDirSync(`${root}/chunks`)].length >= 20 || undefined;
        } catch {
          return undefined;
        }
      },
      20_000,
      "20 chunks",
    ).catch((e) => {
      console.log(nats.server.log().split("\n").filter((l) => l.includes("ERR")).join("\n"));
      console.log(steps);
      throw e;
    });
    await nats.stop();
    const held = (await Array.fromAsync(Deno.readDir(`${root}/chunks`))).length;
    await nats.start();
    await handling;
    const last = steps.at(-1)!;
    assert.equal(last.phase, "healthy", last.reason ?? "");
    assert.ok(last.bytesSaved > 0, "chunks held before the restart were not downloaded again");
    assert.ok(held < 300, `the restart came mid-download (${held} chunks held)`);
    assert.deepEqual(
      await Deno.readFile(`${root}/components/detector/1.0.0/model.bin`),
      data,
    );
  }
});

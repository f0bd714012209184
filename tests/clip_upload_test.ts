/** Resumable, verified upload of spooled clips to the JetStream object store (real nats-server). */
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { Objm } from "@nats-io/obj";
import { ClipSpool, type SpooledClip, uploadClip } from "../edge/recording/mod.ts";
import { startTestNats } from "./harness.ts";

const CHUNK = 64 * 1024;

async function spoolWith(sessions: string[], bytes = 10 * CHUNK - 1000) {
  const dir = await Deno.makeTempDir();
  const spool = ClipSpool.open({ dir, quotaBytes: 64 << 20 });
  const data = new Map<string, Uint8Array>();
  for (const sessionId of sessions) {
    const w = await spool.create({
      sessionId,
      cameraId: "cam-1",
      deviceId: "m001-a",
      part: 0,
      width: 64,
      height: 48,
      fps: 15,
      startTs: 1,
      backend: "wasm",
    });
    const bytesOf = new Uint8Array(bytes);
    for (let at = 0; at < bytes; at += 65536) {
      crypto.getRandomValues(bytesOf.subarray(at, Math.min(bytes, at + 65536)));
    }
    data.set(sessionId, bytesOf);
    await w.write(bytesOf);
    await w.finish({ status: "complete", frames: 5, startTs: 1, endTs: 268 });
  }
  const clip = (sessionId: string): SpooledClip =>
    spool.list().find((c) => c.sessionId === sessionId)!;
  return { spool, clip, data };
}

async function readObject(nc: Parameters<typeof uploadClip>[0], name: string): Promise<Uint8Array> {
  const os = await new Objm(nc).open("clips_local");
  const r = await os.get(name);
  assert.ok(r, `object ${name} missing`);
  return await new Response(r.data).bytes();
}

Deno.test("uploadClip stores a clip any nats.js client reads back whole", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  // The device uploads with its own credentials (its own chunks only); the cloud commits.
  await using device = await nats.connectDevice({ deviceId: "m001-a" });
  const { spool, clip, data } = await spoolWith(["s-1"]);
  using _ = spool;
  const up = await uploadClip(device, clip("s-1"), { spool, chunkBytes: CHUNK });
  assert.equal(up.object, "m001-a/s-1/cam-1-0.mp4");
  assert.equal(up.chunksSent, 10);
  assert.equal(up.sha256, clip("s-1").sha256);
  assert.deepEqual(await readObject(nc, up.object), data.get("s-1"));
  const info = await (await new Objm(nc).open("clips_local")).info(up.object);
  assert.equal(info?.digest, up.digest);
  assert.equal(info?.size, data.get("s-1")!.length);
  // Marking it uploaded is the caller's (after it announced the clip).
  assert.equal(spool.pending().length, 1);
  // Uploading again sends nothing: the object is there and verified.
  assert.equal((await uploadClip(device, clip("s-1"), { spool })).chunksSent, 0);
});

Deno.test("uploadClip resumes an upload interrupted at any chunk from the last stored one", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  await using device = await nats.connectDevice({ deviceId: "m001-a" });
  const stops = [0, 1, 5, 9, 10]; // 10 = after the last chunk, before the metadata
  const { spool, clip, data } = await spoolWith(stops.map((k) => `s-${k}`));
  using _ = spool;
  const jsm = await jetstreamManager(nc);
  for (const k of stops) {
    const id = `s-${k}`;
    await assert.rejects(
      () =>
        uploadClip(device, clip(id), {
          spool,
          chunkBytes: CHUNK,
          beforeChunk: (i) => {
            if (i === k) throw new Error(`link dropped before chunk ${i}`);
          },
        }),
      /link dropped/,
    );
    const up = await uploadClip(device, clip(id), { spool, chunkBytes: CHUNK });
    assert.equal(up.chunksResumed, k, `resumed after ${k}`);
    assert.equal(up.chunksSent, 10 - k);
    assert.deepEqual(await readObject(nc, up.object), data.get(id));
    const os = await new Objm(nc).open("clips_local");
    const nuid = (await os.info(up.object))!.nuid;
    const subject = `$O.clips_local.C.${nuid}`;
    const si = await jsm.streams.info("OBJ_clips_local", { subjects_filter: subject });
    assert.equal(si.state.subjects?.[subject], 10, "no chunk stored twice");
  }
});

Deno.test("uploadClip resumes after the connection drops mid-upload", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  const first = await nats.connectDevice({ deviceId: "m001-a" });
  const { spool, clip, data } = await spoolWith(["s-1"]);
  using _ = spool;
  await assert.rejects(() =>
    uploadClip(first, clip("s-1"), {
      spool,
      chunkBytes: CHUNK,
      beforeChunk: (i) => {
        if (i === 4) void first.close();
      },
    })
  );
  await using second = await nats.connectDevice({ deviceId: "m001-a" });
  const up = await uploadClip(second, clip("s-1"), { spool, chunkBytes: CHUNK });
  assert.equal(up.chunksResumed, 4);
  assert.deepEqual(await readObject(nc, up.object), data.get("s-1"));
});

Deno.test("uploadClip uploads again an object that is truncated or corrupt in the store", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  await using device = await nats.connectDevice({ deviceId: "m001-a" });
  const { spool, clip, data } = await spoolWith(["s-1", "s-2"]);
  using _ = spool;
  const jsm = await jetstreamManager(nc);
  // Truncated: a chunk of the stored object is lost.
  const a = await uploadClip(device, clip("s-1"), { spool, chunkBytes: CHUNK });
  const os = await new Objm(nc).open("clips_local");
  const nuid = (await os.info(a.object))!.nuid;
  const chunk = await jsm.streams.getMessage("OBJ_clips_local", {
    last_by_subj: `$O.clips_local.C.${nuid}`,
  });
  assert.ok(chunk);
  await jsm.streams.deleteMessage("OBJ_clips_local", chunk.seq);
  const again = await uploadClip(device, clip("s-1"), { spool, chunkBytes: CHUNK });
  assert.equal(again.reuploads, 1);
  assert.deepEqual(await readObject(nc, a.object), data.get("s-1"));
  // Corrupt: an object of that name with other bytes.
  const b = clip("s-2");
  await os.putBlob({ name: "m001-a/s-2/cam-1-0.mp4" }, new Uint8Array(5000).fill(7));
  const up = await uploadClip(device, b, { spool, chunkBytes: CHUNK });
  assert.equal(up.chunksSent, 10);
  assert.deepEqual(await readObject(nc, up.object), data.get("s-2"));
});

Deno.test("uploadClip: the cloud refuses a device's commit of another device's object or chunks", async () => {
  await using nats = await startTestNats();
  await using nc = await nats.connect();
  // m001-b's credentials, with a spool of m001-a's clip: its name is not under "m001-b/".
  await using thief = await nats.connectDevice({ deviceId: "m001-b" });
  const { spool, clip } = await spoolWith(["s-1"]);
  using _ = spool;
  await assert.rejects(
    () => uploadClip(thief, clip("s-1"), { spool, chunkBytes: CHUNK }),
    (e: Error) => {
      // Its chunks go to m001-a's chunk subjects, which its credentials refuse.
      assert.match(e.message, /Permissions Violation|not under "m001-b\/"|timeout/i);
      return true;
    },
  );
  assert.equal(await (await new Objm(nc).open("clips_local")).info("m001-a/s-1/cam-1-0.mp4"), null);
});

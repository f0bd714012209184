/**
 * The cloud program stops at any point of its life: SIGTERM while it connects to a NATS that
 * does not answer, and while it serves requests that stay open (a dashboard's live stream, an
 * upload that never ends), ends it cleanly (exit code 0) instead of waiting for the server or the
 * clients. How fast it stops is logged by these tests, not asserted: a program that does not stop
 * fails them by their deadline, and one that stops only by its own 20 s guard exits 1.
 */
import assert from "node:assert/strict";
import { Kvm } from "@nats-io/kv";
import { buckets } from "../protocol/mod.ts";
import { TokenService } from "../cloud/mod.ts";
import { SESSION_COOKIE } from "../cloud/ui/mod.ts";
import { natsEnv, silentServer, spawnStoppable, startTestNats } from "./harness.ts";

Deno.test("the cloud program stops on SIGTERM while it connects to a NATS that does not answer", async () => {
  using server = silentServer();
  const cloud = spawnStoppable("cli/cloud.ts", { env: { NATS_URL: server.url } });
  await server.reached; // it is connecting
  const { ms } = await cloud.terminate();
  console.log(`stopped after SIGTERM in ${ms} ms, while connecting`);
});

Deno.test("the cloud program stops on SIGTERM while a live stream and an endless upload are open", async () => {
  await using nats = await startTestNats();
  const nc = await nats.connect();
  const tokens = await TokenService.open(await new Kvm(nc).create(buckets.service));
  const token = await tokens.issue({ subject: "ops", role: "viewer" });
  const cloud = spawnStoppable("cli/cloud.ts", { env: natsEnv(nats) });
  const api = await cloud.printed("api: ");

  // The fleet page's live stream: open, its first event read.
  const live = await fetch(`${api}/live/`, { headers: { cookie: `${SESSION_COOKIE}=${token}` } });
  assert.equal(live.status, 200);
  const events = live.body!.getReader();
  const first = await events.read();
  assert.ok(!first.done && first.value.length > 0, "the live stream sent its first event");

  // An upload whose body never ends: the request stays in flight.
  let sent!: () => void;
  const started = new Promise<void>((r) => (sent = r));
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      c.enqueue(new TextEncoder().encode("contact=a"));
      sent();
      return new Promise(() => {/* nothing more, ever */});
    },
  });
  const upload = fetch(`${api}/app/signin`, { method: "POST", body }).then(
    (r) => r.body?.cancel(),
    (e) => e, // the server went away: what is expected here
  );
  await started;

  const { ms } = await cloud.terminate();
  console.log(`stopped after SIGTERM in ${ms} ms, while serving a live stream and an upload`);
  // The stream ended with the server (done, or cut), and the upload has its answer or its end.
  await events.read().then(() => undefined, () => undefined);
  await upload;
  await events.cancel().catch(() => {/* already ended */});
});

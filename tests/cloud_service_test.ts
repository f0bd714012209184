import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { startCloudService } from "../cloud/mod.ts";
import type { PaymentProvider } from "../payments/mod.ts";
import { bucketIn, buckets, streamName } from "../protocol/mod.ts";
import type { Logger, LogLevel } from "../runtime/mod.ts";
import { startTestNats } from "./harness.ts";

const quiet: Logger = { log: () => {} };

Deno.test("cloud service serves /healthz over HTTP and creates the region streams", async () => {
  await using nats = await startTestNats();
  await using svc = await startCloudService(nats, { region: "eu-west", logger: quiet });
  const res = await fetch(`${svc.url}/healthz`);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.checks.nats, "connected");
  await using nc = await nats.connect();
  const info = await (await jetstreamManager(nc)).streams.info(streamName("EVENTS", "eu-west"));
  assert.deepEqual(info.config.subjects, ["vs.eu-west.dev.*.evt.*", "vs.eu-west.dev.*.clip"]);
});

Deno.test("cloud service reports 503 on /healthz once NATS is gone", async () => {
  await using nats = await startTestNats();
  await using svc = await startCloudService(nats, { logger: quiet });
  await nats.server.stop();
  const res = await fetch(`${svc.url}/healthz`);
  assert.equal(res.status, 503);
  assert.equal((await res.json()).status, "unavailable");
});

Deno.test("cloud service uses another port when the preferred one is taken", async () => {
  await using nats = await startTestNats();
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const busy = (taken.addr as Deno.NetAddr).port;
  await using svc = await startCloudService(nats, { port: busy, logger: quiet });
  assert.notEqual(new URL(svc.url).port, String(busy));
  assert.equal((await fetch(`${svc.url}/healthz`)).status, 200);
});

Deno.test("cloud service pays through the provider its caller's wrapProvider makes of the default", async () => {
  await using nats = await startTestNats();
  const wrapped: string[] = [];
  await using svc = await startCloudService(nats, {
    logger: quiet,
    payments: {
      wrapProvider: (inner, { logger }): PaymentProvider => {
        assert.equal(logger, quiet);
        wrapped.push(inner.name);
        return {
          name: `wrapped-${inner.name}`,
          authorize: (r) => inner.authorize(r),
          capture: (r) => inner.capture(r),
          cancel: (r) => inner.cancel(r),
          refund: (r) => inner.refund(r),
        };
      },
    },
  });
  assert.equal(wrapped.length, 1);
  assert.equal(svc.payments.providerName, `wrapped-${wrapped[0]}`);
});

Deno.test("cloud service logs and counts a payment reconcile round that fails, instead of reading it as nothing to do", async () => {
  await using nats = await startTestNats();
  const lines: Array<{ level: LogLevel; msg: string; fields: Record<string, unknown> }> = [];
  const logger: Logger = {
    log: (level, msg, fields = {}) => void lines.push({ level, msg, fields }),
  };
  await using svc = await startCloudService(nats, { logger, payments: { reconcileEveryMs: 50 } });
  // A session entry that is not one (written by hand): every round fails reading it.
  await using nc = await nats.connect();
  await (await new Kvm(nc).open(bucketIn(buckets.paymentSessions, "local"))).put(
    "pay-corrupt",
    "not JSON",
  );
  const failed = () => lines.find((l) => l.msg === "payment reconcile failed");
  for (let i = 0; i < 100 && !failed(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(failed()?.level, "error", JSON.stringify(lines.filter((l) => l.level !== "info")));
  assert.match(String(failed()?.fields.error), /JSON/);
  const metrics = await (await fetch(`${svc.url}/metrics`)).text();
  const count = /^vend_payment_reconcile_failures_total (\d+)$/m.exec(metrics);
  assert.ok(count && Number(count[1]) >= 1, metrics);
});

/**
 * `./vend bench payments`: payment sessions settled end to end on this machine. A local
 * nats-server, the cloud's payment service (its EVENTS consumer, `--instances` of them sharing
 * it) and the sandbox provider (simulated; its state in NATS KV). `--sessions` sessions are
 * started (hold, unlock to a simulated machine that accepts at once), then the machines' door
 * sessions end: one `session_completed` per session is published to the EVENTS stream as a
 * device would, with its cart and the door's closing time, all at once (a burst) or `--rate` per
 * second. Measured: sessions settled per second
 * from the first cart published to the last receipt, door close to receipt p50/p99 (the receipt
 * seen on the PAYMENTS stream), and double charges (a hold captured other than the cart's total,
 * or any ledger discrepancy).
 *
 * Progress goes to stderr; the last line of stdout is one JSON object.
 *
 * @example
 * ```sh
 * ./vend bench payments --sessions 5000
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { jetstream } from "@nats-io/jetstream";
import { KvSandboxStore, PaymentService, PriceBook } from "../cloud/checkout/mod.ts";
import { checkPaymentBooks, connectNats } from "../cloud/mod.ts";
import { ensureStreams } from "../cloud/nats/mod.ts";
import { startLocalNats } from "../cloud/dev/mod.ts";
import { DEFAULT_CATALOGUE } from "../models/mod.ts";
import { priceCart, priceList, SandboxProvider } from "../payments/mod.ts";
import { filters, parsePaymentEvent, pipelineEvent, subjects } from "../protocol/mod.ts";
import { machine, percentile } from "./_machine.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    sessions: { type: "string", default: "5000" },
    instances: { type: "string", default: "1" },
    concurrency: { type: "string", default: "64" },
    rate: { type: "string", default: "0" },
  },
});
const N = Number(values.sessions);
const INSTANCES = Number(values.instances);
/** Door sessions ending per second (0: all at once, a burst). */
const RATE = Number(values.rate);
const log = (s: string) => console.error(s);

const work = await Deno.makeTempDir({ prefix: "vend-bench-payments-" });
const nats = await startLocalNats({ dataDir: work });
const nc = await connectNats(nats, { name: "bench-payments" });
await ensureStreams(nc, "local");
const prices = priceList(DEFAULT_CATALOGUE);
const skus = [...prices.items.keys()];
const provider = new SandboxProvider(await KvSandboxStore.open(nc));
const unlocker = {
  unlock: (machineId: string, sessionId: string) =>
    Promise.resolve({ deviceId: `${machineId}-a`, commandId: `cmd-${sessionId.slice(4, 24)}` }),
};
const services = await Promise.all(
  Array.from(
    { length: INSTANCES },
    async () => {
      const nc = await connectNats(nats, { name: "bench-cloud" });
      return PaymentService.open(nc, {
        region: "local",
        provider,
        prices: await PriceBook.open(nc, { seed: prices }),
        unlocker,
        concurrency: Number(values.concurrency),
      });
    },
  ),
);
const p = services[0]!;
const customer = await p.registerCustomer({ email: "bench@example.com" });
await p.addPaymentMethod(customer.customerId, { token: "pm_sandbox_visa" });

log(`bench payments: starting ${N} sessions (hold and unlock)`);
const sessions: Array<{ id: string; cart: Array<{ sku: string; qty: number }>; total: number }> =
  [];
for (let i = 0; i < N; i += 64) {
  const batch = await Promise.all(
    Array.from({ length: Math.min(64, N - i) }, async (_, j) => {
      const s = await p.start({ customerId: customer.customerId, machineId: "m001" });
      const k = i + j;
      const cart = k % 10 === 0 ? [] : [
        { sku: skus[k % skus.length]!, qty: 1 + (k % 3) },
        ...(k % 4 === 0 ? [{ sku: skus[(k + 5) % skus.length]!, qty: 1 }] : []),
      ];
      return { id: s.sessionId, cart, total: priceCart(cart, prices).total };
    }),
  );
  sessions.push(...batch);
}

// Receipts as the PAYMENTS stream shows them.
const closedAt = new Map<string, number>();
const latencies: number[] = [];
let lastReceipt = 0;
const receipts = nc.subscribe(filters.payments("local"));
const allIn = (async () => {
  for await (const m of receipts) {
    const e = parsePaymentEvent(m.data);
    if (!e.ok || e.value.type !== "receipt_issued") continue;
    const closed = closedAt.get(e.value.sessionId);
    if (closed === undefined) continue;
    latencies.push(Date.now() - closed);
    lastReceipt = performance.now();
    if (latencies.length === N) break;
  }
})();
const stop = new AbortController();
const running = services.map((s) => s.run(stop.signal));
await new Promise((r) => setTimeout(r, 500));

log(`bench payments: ${N} door sessions end`);
const js = jetstream(nc);
const first = performance.now();
const step = RATE > 0 ? Math.max(1, Math.round(RATE / 20)) : 256;
for (let i = 0; i < N; i += step) {
  if (RATE > 0) {
    // Paced: `step` carts every 50 ms.
    const wait = first + (i / RATE) * 1000 - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  await Promise.all(
    sessions.slice(i, i + step).map((s) => {
      const now = Date.now();
      closedAt.set(s.id, now);
      const event = {
        v: 1 as const,
        id: `${s.id.slice(0, 58)}-done`,
        ts: now,
        deviceId: "m001-a",
        machineId: "m001",
        type: "session_completed" as const,
        sessionId: s.id,
        openedAt: now - 4000,
        closedAt: now,
        cart: s.cart,
        confidence: 0.97,
        review: { required: false, reasons: [] },
        modelVersion: "1.0.0",
      };
      return js.publish(
        subjects.pipelineEvent({ region: "local", deviceId: "m001-a" }, "session_completed"),
        pipelineEvent.encode(event),
        { msgID: event.id },
      );
    }),
  );
}
const timeout = setTimeout(() => receipts.unsubscribe(), 300_000);
await allIn;
clearTimeout(timeout);
const seconds = (lastReceipt - first) / 1000;
stop.abort();
await Promise.all(running);

log("bench payments: checking every hold and the ledger");
let doubles = 0;
for (const s of sessions) {
  const session = await p.get(s.id);
  const hold = await provider.inspect(session.hold!.holdId);
  if (session.captured !== s.total || hold.captured !== s.total) doubles++;
}
const books = await checkPaymentBooks(nc);
const rss = Deno.memoryUsage().rss / 2 ** 20;
console.log(JSON.stringify({
  bench: "payments",
  machine: machine(),
  sessions: N,
  settled: latencies.length,
  instances: INSTANCES,
  rate: RATE > 0 ? RATE : "burst",
  sessions_s: Math.round((latencies.length / seconds) * 10) / 10,
  close_to_receipt_p50_ms: percentile(latencies, 50),
  close_to_receipt_p99_ms: percentile(latencies, 99),
  double_charges: doubles,
  ledger_discrepancies: books.discrepancies.length,
  ledger_transactions: books.transactions,
  rss_mb: Math.round(rss),
}));
await nc.close();
await nats.stop();
await Deno.remove(work, { recursive: true }).catch(() => {});
Deno.exit(0);

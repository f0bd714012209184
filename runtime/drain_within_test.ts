import assert from "node:assert/strict";
import type { NatsConnection } from "@nats-io/nats-core";
import { errors } from "@nats-io/nats-core";
import { drainWithin } from "./drain_within.ts";

/** A connection whose drain and close behave as told (only what drainWithin uses). */
function connection(
  drain: () => Promise<void>,
  close: () => Promise<void> = () => Promise.resolve(),
  closed = false,
): NatsConnection & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    isClosed: () => closed,
    drain: () => (calls.push("drain"), drain()),
    close: () => (calls.push("close"), close()),
  } as unknown as NatsConnection & { calls: string[] };
}
const never = () => new Promise<void>(() => {});

Deno.test("drainWithin drains a connection that answers", async () => {
  const nc = connection(() => Promise.resolve());
  assert.equal(await drainWithin(nc), "drained");
  assert.deepEqual(nc.calls, ["drain"]);
});

Deno.test("drainWithin closes a connection whose drain does not end", async () => {
  const nc = connection(never);
  assert.equal(await drainWithin(nc, { timeoutMs: 20 }), "closed");
  assert.deepEqual(nc.calls, ["drain", "close"]);
});

Deno.test("drainWithin leaves a connection whose close does not end either", async () => {
  const nc = connection(never, never);
  assert.equal(await drainWithin(nc, { timeoutMs: 20 }), "abandoned");
});

Deno.test("drainWithin closes a connection already draining, and passes other errors on", async () => {
  const draining = connection(() => Promise.reject(new errors.DrainingConnectionError()));
  assert.equal(await drainWithin(draining), "closed");
  assert.deepEqual(draining.calls, ["drain", "close"]);
  assert.equal(await drainWithin(connection(never, never, true)), "closed");
  await assert.rejects(
    drainWithin(connection(() => Promise.reject(new RangeError("bad")))),
    RangeError,
  );
  await assert.rejects(drainWithin(connection(never), { timeoutMs: -1 }), RangeError);
});

import assert from "node:assert/strict";
import { newEnvelope, newMessageId } from "./message_id.ts";
import { HeartbeatSchema } from "./heartbeat.ts";

Deno.test("newMessageId makes unique UUIDv7 ids that sort by time", () => {
  const ids = Array.from({ length: 1000 }, (_, i) => newMessageId(1_764_200_000_000 + i));
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), ids);
  assert.match(ids[0]!, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(HeartbeatSchema.shape.id.safeParse(ids[0]).success);
});

Deno.test("newMessageId refuses a time that is not Unix milliseconds", () => {
  assert.throws(() => newMessageId(-1), RangeError);
  assert.throws(() => newMessageId(1.5), RangeError);
  assert.equal(newEnvelope(5).ts, 5);
});

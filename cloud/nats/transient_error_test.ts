import assert from "node:assert/strict";
import { errors } from "@nats-io/nats-core";
import { isStreamNotFound, isTransientNatsError } from "./transient_error.ts";

Deno.test("isTransientNatsError knows a timeout and no responders, not a plain error", () => {
  assert.equal(isTransientNatsError(new errors.TimeoutError()), true);
  assert.equal(isTransientNatsError(new errors.NoRespondersError("$JS.API.INFO")), true);
  assert.equal(
    isTransientNatsError(new Error("cart refused", { cause: new errors.TimeoutError() })),
    true,
    "through its cause",
  );
  assert.equal(isTransientNatsError(new Error("timeout")), false);
  assert.equal(isTransientNatsError(new TypeError("Invalid cart")), false);
  assert.equal(isTransientNatsError("timeout"), false);
});

Deno.test("isStreamNotFound knows JetStream's missing stream, and nothing else", () => {
  assert.equal(isStreamNotFound(new Error("stream not found")), true);
  assert.equal(isStreamNotFound(new Error("consumer not found")), false);
  assert.equal(isStreamNotFound("stream not found"), false);
});

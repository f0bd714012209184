import assert from "node:assert/strict";
import { errors } from "@nats-io/nats-core";
import { JetStreamApiError } from "@nats-io/jetstream";
import {
  isConsumerExists,
  isNoSuitablePeers,
  isRevisionConflict,
  isStreamNotFound,
  isTransientNatsError,
} from "./transient_error.ts";

Deno.test("isTransientNatsError knows a timeout and no responders, not a plain error", () => {
  assert.equal(isTransientNatsError(new errors.TimeoutError()), true);
  assert.equal(isTransientNatsError(new errors.NoRespondersError("$JS.API.INFO")), true);
  assert.equal(
    isTransientNatsError(new Error("cart refused", { cause: new errors.TimeoutError() })),
    true,
    "through its cause",
  );
  assert.equal(
    isTransientNatsError(apiError(10008, "JetStream system temporarily unavailable", 503)),
    true,
  );
  assert.equal(isTransientNatsError(apiError(10059, "stream not found", 404)), false);
  assert.equal(isTransientNatsError(new Error("JetStream system temporarily unavailable")), false);
  assert.equal(isTransientNatsError(new Error("timeout")), false);
  assert.equal(isTransientNatsError(new TypeError("Invalid cart")), false);
  assert.equal(isTransientNatsError("timeout"), false);
});

const apiError = (err_code: number, description: string, code = 400) =>
  new JetStreamApiError({ code, err_code, description });

Deno.test("isStreamNotFound knows JetStream's missing stream by its code, and nothing else", () => {
  assert.equal(isStreamNotFound(apiError(10059, "stream not found", 404)), true);
  assert.equal(isStreamNotFound(apiError(10014, "consumer not found", 404)), false);
  assert.equal(isStreamNotFound(new Error("stream not found")), false, "only the API's");
  assert.equal(isStreamNotFound("stream not found"), false);
});

Deno.test("isConsumerExists knows JetStream's existing consumer, and nothing else", () => {
  assert.equal(isConsumerExists(apiError(10148, "consumer already exists")), true);
  assert.equal(isConsumerExists(apiError(10013, "consumer name already in use")), true);
  assert.equal(isConsumerExists(apiError(10059, "stream not found")), false);
  assert.equal(isConsumerExists(new errors.TimeoutError()), false);
  assert.equal(isConsumerExists(new Error("consumer already exists")), false, "only the API's");
});

Deno.test("isRevisionConflict knows a lost compare-and-swap, not a timeout", () => {
  assert.equal(isRevisionConflict(apiError(10071, "wrong last sequence: 7")), true);
  assert.equal(isRevisionConflict(apiError(10164, "wrong last sequence: unknown")), true);
  assert.equal(isRevisionConflict(new Error("wrong last sequence: 3")), false, "only the API's");
  assert.equal(isRevisionConflict(new errors.TimeoutError()), false);
  assert.equal(isRevisionConflict(apiError(10059, "stream not found")), false);
});

Deno.test("isNoSuitablePeers knows JetStream's refusal to place a stream, by its code", () => {
  assert.equal(isNoSuitablePeers(apiError(10005, "no suitable peers for placement")), true);
  assert.equal(isNoSuitablePeers(apiError(10059, "stream not found", 404)), false);
  assert.equal(isNoSuitablePeers(new Error("no suitable peers for placement")), false);
});

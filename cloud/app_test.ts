import assert from "node:assert/strict";
import { createApp } from "./app.ts";
import type { Logger } from "../runtime/mod.ts";

Deno.test("createApp answers /healthz with 200 when every check passes", async () => {
  const app = createApp({
    health: () => Promise.resolve({ ok: true, checks: { nats: "connected" } }),
  });
  const res = await app.request("/healthz");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: "ok", checks: { nats: "connected" } });
});

Deno.test("createApp answers /healthz with 503 when a check fails", async () => {
  const app = createApp({
    health: () => Promise.resolve({ ok: false, checks: { nats: "closed" } }),
  });
  const res = await app.request("/healthz");
  assert.equal(res.status, 503);
  assert.equal((await res.json()).status, "unavailable");
});

Deno.test("createApp answers an unknown route with a problem document", async () => {
  const app = createApp({ health: () => Promise.resolve({ ok: true, checks: {} }) });
  const res = await app.request("/devices/../../etc/passwd");
  assert.equal(res.status, 404);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  assert.equal((await res.json()).status, 404);
});

Deno.test("createApp turns an unexpected error into a logged 500 problem without internals", async () => {
  const logged: unknown[] = [];
  const logger: Logger = { log: (level, msg, fields) => logged.push({ level, msg, ...fields }) };
  const app = createApp({
    health: () => Promise.reject(new Error("secret internal detail")),
    logger,
  });
  const res = await app.request("/healthz");
  assert.equal(res.status, 500);
  const body = await res.json();
  assert.equal(body.title, "Internal Server Error");
  assert.ok(!JSON.stringify(body).includes("secret"));
  const failure = logged.find((l) => (l as { msg: string }).msg === "request failed") as Record<
    string,
    unknown
  >;
  assert.equal(failure.error, "secret internal detail");
  assert.equal(failure.path, "/healthz");
  assert.equal(failure.requestId, res.headers.get("x-request-id"));
});

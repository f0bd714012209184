/**
 * A hostile client on the HTTP API, with no credentials or forged ones, against the real cloud
 * service on a real nats-server: what it sends is refused before it costs the service memory or
 * audit writes, and nothing changes.
 */
import assert from "node:assert/strict";
import { startCloudService } from "../cloud/mod.ts";
import { auditEntries, startTestNats } from "./harness.ts";

const quiet = { log: () => {} };

/** A body of `total` bytes in 64 KiB chunks that counts how much of it was read. */
function countedBody(total: number) {
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  const read = { bytes: 0 };
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (read.bytes >= total) return controller.close();
      read.bytes += chunk.length;
      controller.enqueue(chunk);
    },
  });
  return { body, read };
}

Deno.test("a chunked 64 MB body without credentials is refused at the body limit and never read whole", async () => {
  await using nats = await startTestNats();
  await using svc = await startCloudService(nats, { logger: quiet });
  for (
    const [path, type] of [
      ["/app/signin", "application/x-www-form-urlencoded"],
      ["/customers", "application/json"],
      ["/payments/sessions", "application/json"],
    ] as const
  ) {
    const { body, read } = countedBody(64 << 20);
    // No content-length: the body goes chunked, as an attacker would send it.
    const res = await fetch(`${svc.url}${path}`, {
      method: "POST",
      headers: { "content-type": type },
      body,
      signal: AbortSignal.timeout(20_000),
    });
    const answer = await res.text();
    assert.equal(res.status, 413, `${path}: ${answer}`);
    assert.match(answer, /limited to 262144 bytes/);
    await body.cancel().catch(() => {});
    assert.ok(read.bytes < 8 << 20, `${path} read ${read.bytes} bytes of a 64 MB body`);
  }
});

Deno.test("a flood of forged bearer tokens is refused every time but audited only a few times", async () => {
  await using nats = await startTestNats();
  await using svc = await startCloudService(nats, { logger: quiet });
  await using nc = await nats.connect();
  const before = (await auditEntries(nc)).length;
  const forged = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.c2lnbmF0dXJl";
  for (let i = 0; i < 200; i++) {
    const res = await fetch(`${svc.url}/devices`, {
      headers: { authorization: `Bearer ${forged}${i}` },
    });
    await res.body?.cancel();
    assert.equal(res.status, 401);
  }
  const refused = (await auditEntries(nc)).slice(before).filter((e) =>
    e.action === "auth.token_refused"
  );
  assert.ok(refused.length >= 1, "a refused token is audited");
  assert.ok(refused.length <= 5, `200 forged tokens wrote ${refused.length} audit entries`);
  assert.match(refused[0]!.reason ?? "", /from 127\.0\.0\.1/);
  const metrics = await (await fetch(`${svc.url}/metrics`)).text();
  assert.match(metrics, /vend_auth_refusals_unaudited_total 19[5-9]/);
});

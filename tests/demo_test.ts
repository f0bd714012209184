import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { connectNats } from "../cloud/mod.ts";
import { lines, ROOT } from "./harness.ts";

Deno.test("vend demo prints its URLs, serves /healthz with JetStream, and exits 0 after --duration", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "vend-demo-" });
  const child = new Deno.Command(`${ROOT}vend`, {
    args: ["demo", "--duration", "10"],
    env: { VEND_DATA_DIR: dataDir, VEND_API_PORT: "0" },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    const urls = new Map<string, string>();
    const out = lines(child.stdout);
    for await (const line of out) {
      const m = /^(\w+): (\S+)$/.exec(line);
      assert.ok(m, `unexpected line on stdout: ${line}`);
      urls.set(m[1]!, m[2]!);
      if (urls.has("api")) break;
    }
    assert.match(urls.get("nats") ?? "", /^nats:\/\/127\.0\.0\.1:\d+$/);
    assert.match(urls.get("api") ?? "", /^http:\/\/127\.0\.0\.1:\d+$/);

    const health = await fetch(`${urls.get("api")}/healthz`);
    assert.equal(health.status, 200);
    assert.equal((await health.json()).status, "ok");
    const nc = await connectNats(urls.get("nats")!);
    const account = await (await jetstreamManager(nc)).getAccountInfo();
    assert.ok(account.streams >= 4, `only ${account.streams} streams`);
    await nc.close();

    for await (const _ of out) { /* drain until exit */ }
    const status = await child.status;
    assert.equal(status.code, 0);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("vend demo refuses a bad --duration with exit code 2", async () => {
  const out = await new Deno.Command(`${ROOT}vend`, { args: ["demo", "--duration", "0"] }).output();
  assert.equal(out.code, 2);
  assert.match(
    new TextDecoder().decode(out.stderr),
    /--duration must be a positive number of seconds, got "0"/,
  );
});

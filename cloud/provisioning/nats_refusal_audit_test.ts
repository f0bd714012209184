import assert from "node:assert/strict";
import { parseNatsRefusal } from "./nats_refusal_audit.ts";

Deno.test("parseNatsRefusal reads nats-server 2.9's refusal lines and nothing else", () => {
  assert.deepEqual(
    parseNatsRefusal(
      '[4809] 2026/11/27 13:02:57.946092 [ERR] 127.0.0.1:52546 - cid:14 - "v3.4.0:nats.js:m002-a" - Publish Violation - Nkey "UA5V7PSO7N4JH7REHFINH6CLM4II3LMCSOAPOUD5RZZ7ENB73VFRBM3W", Subject "vs.local.dev.m001-a.hb"',
    ),
    {
      kind: "publish",
      client: "m002-a",
      nkey: "UA5V7PSO7N4JH7REHFINH6CLM4II3LMCSOAPOUD5RZZ7ENB73VFRBM3W",
      subject: "vs.local.dev.m001-a.hb",
      address: "127.0.0.1:52546",
    },
  );
  assert.equal(
    parseNatsRefusal(
      '[7398] 2026/11/27 13:11:18.412129 [ERR] 127.0.0.1:48364 - cid:42 - "v3.4.0:nats.js:m001-a" - Subscription Violation - Nkey "UBL6IN5GNSXVZPX4ZITKD6KRSBUUJDFYHSWVHN6MEGW5YAXOQ5AFBRL7", Subject "vs.*.dev.m001-a.cmd.*", SID 1',
    )?.kind,
    "subscribe",
  );
  assert.deepEqual(
    parseNatsRefusal(
      '[15555] 2026/11/27 13:22:17.842686 [ERR] 127.0.0.1:33664 - cid:42 - "v3.4.0:nats.js:m001-a" - authentication error',
    ),
    {
      kind: "authentication",
      client: "m001-a",
      nkey: null,
      subject: null,
      address: "127.0.0.1:33664",
    },
  );
  for (
    const line of [
      "[1] 2026/11/27 13:00:00.000000 [INF] Server is ready",
      '[1] 2026/11/27 13:00:00.000000 [INF] 127.0.0.1:1 - cid:1 - "v3.4.0:nats.js:x" - Publish Violation',
      "",
    ]
  ) assert.equal(parseNatsRefusal(line), undefined, line);
});

import assert from "node:assert/strict";
import { Outbox, OutboxFullError, type OutboxStats } from "./outbox.ts";

const entry = (n: number, size = 10) => ({
  id: `evt-0000000${n}`,
  subject: `vs.local.dev.d1.evt.t${n}`,
  data: new Uint8Array(size).fill(n),
});

Deno.test("Outbox keeps events across a reopen, in order, until they are removed", async () => {
  const dir = await Deno.makeTempDir();
  {
    using box = new Outbox(`${dir}/o.db`);
    for (let i = 1; i <= 5; i++) box.append(entry(i));
    box.append(entry(3)); // a repeated id is stored once
    assert.equal(box.stats().depth, 5);
  }
  using box = new Outbox(`${dir}/o.db`);
  assert.deepEqual(box.peek().map((e) => e.id), [1, 2, 3, 4, 5].map((i) => `evt-0000000${i}`));
  assert.deepEqual([...box.peek(1)[0]!.data], Array(10).fill(1));
  box.remove(["evt-00000001", "evt-00000002"]);
  assert.deepEqual(box.stats(), { depth: 3, bytes: 30, capacityBytes: 256 * 1024 * 1024 });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("Outbox alerts before its bound and refuses an event past it", async () => {
  const dir = await Deno.makeTempDir();
  const alerts: OutboxStats[] = [];
  using box = new Outbox(`${dir}/o.db`, {
    maxBytes: 100,
    alertRatio: 0.5,
    onAlert: (s) => alerts.push(s),
  });
  for (let i = 1; i <= 4; i++) box.append(entry(i, 20));
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.bytes, 60);
  box.append(entry(5, 20));
  assert.throws(() => box.append(entry(6, 20)), OutboxFullError);
  assert.equal(box.stats().depth, 5, "nothing half-written");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("Outbox delivers in order and retries a failed publish before anything later", async () => {
  const dir = await Deno.makeTempDir();
  using box = new Outbox(`${dir}/o.db`);
  for (let i = 1; i <= 6; i++) box.append(entry(i));
  const published: string[] = [];
  let failures = 2;
  const stop = new AbortController();
  const delivering = box.deliver({
    publish(_subject, _data, id) {
      if (id === "evt-00000003" && failures-- > 0) return Promise.reject(new Error("no ack"));
      published.push(id);
      if (published.length === 6) stop.abort();
      return Promise.resolve();
    },
  }, { signal: stop.signal, retryMs: 5 });
  await delivering;
  assert.deepEqual(published, [1, 2, 3, 4, 5, 6].map((i) => `evt-0000000${i}`));
  assert.equal(box.stats().depth, 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("Outbox keeps its counters right when a batch of removals is rolled back", () => {
  const dir = Deno.makeTempDirSync();
  using box = new Outbox(`${dir}/o.db`);
  for (const id of ["a", "b", "c"]) {
    box.append({ id, subject: "s", data: new Uint8Array(10) });
  }
  // The second delete of the batch fails (as a busy database does): the batch rolls back.
  box.database.exec(`CREATE TRIGGER fail_b BEFORE DELETE ON outbox WHEN old.id = 'b'
    BEGIN SELECT RAISE(ABORT, 'database is locked'); END`);
  assert.throws(() => box.remove(["a", "b"]), /database is locked/);
  assert.deepEqual([box.stats().depth, box.stats().bytes], [3, 30]);
  box.database.exec("DROP TRIGGER fail_b");
  box.remove(["a", "b", "zzz"]);
  assert.deepEqual([box.stats().depth, box.stats().bytes], [1, 10]);
  // A fresh count agrees.
  box[Symbol.dispose]();
  using again = new Outbox(`${dir}/o.db`);
  assert.deepEqual([again.stats().depth, again.stats().bytes], [1, 10]);
});

Deno.test("Outbox delivers another region's events while one region does not acknowledge", async () => {
  const dir = await Deno.makeTempDir();
  using box = new Outbox(`${dir}/o.db`);
  const ev = (n: number, region: string) => ({
    id: `evt-${region}-${n}`,
    subject: `vs.${region}.dev.d1.evt.door_closed`,
    data: new Uint8Array([n]),
  });
  box.append(ev(1, "eu_1")); // "_" must not act as a LIKE wildcard
  box.append(ev(1, "eu"));
  box.append(ev(2, "eu"));
  box.append(ev(1, "us"));
  box.append(ev(2, "us"));
  let euUp = false;
  const delivered: string[] = [];
  const stop = new AbortController();
  const running = box.deliver({
    publish: (subject, _data, id) => {
      if (subject.startsWith("vs.eu.") && !euUp) return Promise.reject(new Error("no responders"));
      delivered.push(id);
      return Promise.resolve();
    },
  }, { signal: stop.signal, retryMs: 20, laneOf: (s) => s.split(".").slice(0, 2).join(".") + "." });
  while (delivered.length < 3) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(delivered, ["evt-eu_1-1", "evt-us-1", "evt-us-2"]);
  assert.deepEqual(box.peek().map((e) => e.id), ["evt-eu-1", "evt-eu-2"], "eu's wait, in order");
  euUp = true;
  while (delivered.length < 5) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(delivered.slice(3), ["evt-eu-1", "evt-eu-2"]);
  assert.equal(box.stats().depth, 0);
  stop.abort();
  await running;
  await Deno.remove(dir, { recursive: true });
});

import assert from "node:assert/strict";
import { abortable } from "./abortable.ts";

Deno.test("abortable settles with the work when no signal aborts", async () => {
  const stop = new AbortController();
  assert.equal(await abortable(Promise.resolve(7), { signal: stop.signal }), 7);
  await assert.rejects(
    abortable(Promise.reject(new RangeError("bad")), { signal: stop.signal }),
    RangeError,
  );
});

Deno.test("abortable rejects with the signal's reason at once, and hands a late result to onLate", async () => {
  const stop = new AbortController();
  let finish!: (v: string) => void;
  const work = new Promise<string>((r) => (finish = r));
  const late: string[] = [];
  const waiting = abortable(work, { signal: stop.signal, onLate: (v) => late.push(v) });
  const reason = new Error("stopping");
  stop.abort(reason);
  await assert.rejects(waiting, (e) => e === reason);
  finish("connection");
  await work;
  assert.deepEqual(late, ["connection"]);
});

Deno.test("abortable rejects before starting to wait when the signal has aborted already", async () => {
  const stop = new AbortController();
  stop.abort(new Error("gone"));
  await assert.rejects(abortable(new Promise(() => {}), { signal: stop.signal }), /gone/);
});

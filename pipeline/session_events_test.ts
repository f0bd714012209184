import assert from "node:assert/strict";
import type { SlotEvidence, SlotView } from "./cart_decision.ts";
import { detectEvents, type SessionMoment } from "./session_events.ts";

const labels = ["empty", "COLA-330", "WATER-500"];

/**
 * A camera view `p` sure of `count` units, with hand class `hand` (0 none, 1 empty hand,
 * 2 holding COLA-330, 3 holding WATER-500), or no hand head at all.
 */
function view(count: number, hand: number | null, p = 0.98): SlotView {
  return {
    cameraId: "cam-1",
    sku: Float32Array.of(0.01, 0.98, 0.01),
    count: Float32Array.from({ length: 5 }, (_, c) => (c === count ? p : (1 - p) / 4)),
    ...(hand === null
      ? {}
      : { hand: Float32Array.from({ length: 4 }, (_, h) => (h === hand ? 0.97 : 0.01)) }),
  };
}

const at = (count: number, hand: number | null = 0): SlotEvidence => ({
  shelf: 1,
  slot: 2,
  sku: "COLA-330",
  views: [view(count, hand)],
});

/** Moments 150 ms apart from t = 1000, one per [count, hand] pair. */
const moments = (xs: ReadonlyArray<readonly [number, number | null]>): SessionMoment[] =>
  xs.map(([count, hand], i) => ({ ts: 1000 + i * 150, slots: [at(count, hand)] }));

Deno.test("detectEvents reports a take at the middle of the hand's visit to the slot", () => {
  const events = detectEvents([at(3)], [at(2)], {
    labels,
    during: moments([[3, 0], [3, 0], [3, 1], [2, 2], [2, 2], [2, 0], [2, 0]]),
  });
  assert.equal(events.length, 1);
  const [e] = events;
  assert.equal(e!.kind, "take");
  assert.equal(e!.sku, "COLA-330");
  assert.deepEqual([e!.shelf, e!.slot], [1, 2]);
  assert.equal(e!.at, 1000 + 3 * 150);
  assert.ok(e!.confidence > 0.9, `${e!.confidence}`);
});

Deno.test("detectEvents reports a unit taken and put back as a take and a return", () => {
  const events = detectEvents([at(2)], [at(2)], {
    labels,
    during: moments([[2, 0], [2, 0], [1, 2], [1, 0], [1, 0], [1, 0], [2, 2], [2, 0], [2, 0]]),
  });
  assert.deepEqual(events.map((e) => [e.kind, e.at]), [["take", 1300], ["return", 1900]]);
});

Deno.test("detectEvents ignores counts seen while a hand covers the slot, and one-off blips", () => {
  // Covered moments claim 0 units; one clear moment claims 1: neither is a state.
  const events = detectEvents([at(3)], [at(3)], {
    labels,
    during: moments([[3, 0], [3, 0], [0, 1], [0, 1], [3, 0], [1, 0], [3, 0], [3, 0]]),
  });
  assert.deepEqual(events, []);
});

Deno.test("detectEvents takes a count that changes with no product in a hand for a misreading", () => {
  // Lighting makes 3 units look like 2 for a while; an empty hand (class 1) passes: no event.
  const events = detectEvents([at(3)], [at(3)], {
    labels,
    during: moments([[3, 0], [3, 0], [2, 0], [2, 0], [2, 1], [2, 0], [2, 0], [3, 0], [3, 0]]),
  });
  assert.deepEqual(events, []);
});

Deno.test("detectEvents makes the events add up to the change from before to after", () => {
  // The door closes before a clear moment shows the new count: the after picture anchors it.
  const events = detectEvents([at(4)], [at(2)], {
    labels,
    during: moments([[4, 0], [4, 0], [4, 2], [4, 1]]),
  });
  assert.deepEqual(events.map((e) => e.kind), ["take", "take"]);
  assert.ok(events.every((e) => e.at === 1300));
});

Deno.test("detectEvents times a take by the hand's last visit to the slot", () => {
  // An arm passes over the slot first (moment 2, no change), then the take (moments 5-7).
  const events = detectEvents([at(2)], [at(1)], {
    labels,
    during: moments([[2, 0], [2, 0], [2, 1], [2, 0], [2, 0], [2, 1], [1, 2], [1, 2], [1, 0], [
      1,
      0,
    ]]),
  });
  assert.deepEqual(events.map((e) => [e.kind, e.at]), [["take", 1000 + 6 * 150]]);
});

Deno.test("detectEvents reports nothing for a model without a hand head", () => {
  const events = detectEvents([at(3, null)], [at(2, null)], {
    labels,
    during: moments([[3, null], [3, null], [2, null], [2, null]]),
  });
  assert.deepEqual(events, []);
});

Deno.test("detectEvents times events at whole milliseconds when frame times are fractional", () => {
  // 15 fps on a reference clock the clock model maps: 66.67 ms apart, fractional.
  const during = moments([[3, 0], [3, 0], [3, 1], [2, 2], [2, 2], [2, 0], [2, 0]]).map((m, i) => ({
    ...m,
    ts: 1796154984895.5303 + i * (1000 / 15),
  }));
  const events = detectEvents([at(3)], [at(2)], { labels, during });
  assert.equal(events.length, 1);
  assert.ok(Number.isSafeInteger(events[0]!.at), `at ${events[0]!.at}`);
  assert.equal(events[0]!.at, Math.round(during[3]!.ts));
});

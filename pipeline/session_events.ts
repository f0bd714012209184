/**
 * The take and return events of a door session, from what the slot model saw of every slot while
 * the door was open. Per slot, the moments when no hand was over it (the model's hand head,
 * averaged over the cameras) give its unit count; a count held for at least `minRun` such moments,
 * with a hand over the slot since the previous state, is a state (a count that changes without
 * one is a misreading: a unit only leaves or arrives in a hand). The shelf before
 * the door opened and after it closed anchor the first and the last state, and each step between
 * states is one take (fewer units) or return (more) per unit. An event's time
 * is the middle of the hand's last visit to the slot between the two states (reaching in, taking
 * or leaving the unit, withdrawing), and its SKU the planogram's. The events
 * always add up to the change from before to after, which is what the cart is decided from
 * (`cart_decision.ts`).
 *
 * @example
 * ```ts
 * import { detectEvents } from "./session_events.ts";
 *
 * const view = (count: number, hand: number) => ({
 *   cameraId: "cam-1",
 *   sku: Float32Array.of(0.01, 0.99),
 *   count: Float32Array.from([0, 1, 2], (c) => (c === count ? 0.98 : 0.01)),
 *   hand: Float32Array.from([0, 1, 2], (h) => (h === hand ? 0.98 : 0.01)),
 * });
 * const slot = { shelf: 0, slot: 0, sku: "COLA-330" };
 * const events = detectEvents(
 *   [{ ...slot, views: [view(2, 0)] }],
 *   [{ ...slot, views: [view(1, 0)] }],
 *   {
 *     labels: ["empty", "COLA-330"],
 *     during: [
 *       { ts: 100, slots: [{ ...slot, views: [view(2, 2)] }] },
 *       { ts: 250, slots: [{ ...slot, views: [view(1, 0)] }] },
 *     ],
 *   },
 * );
 * console.log(events); // [{ kind: "take", sku: "COLA-330", at: 100, ... }]
 * ```
 *
 * @module
 */
import { type ItemEvent, mostLikely, poolViews, type SlotEvidence } from "./cart_decision.ts";

/** What the slots looked like at one moment while the door was open. */
export interface SessionMoment {
  /** When, on the frame clock. */
  readonly ts: number;
  /** Every slot seen at that moment, with the hand head's output in its views. */
  readonly slots: readonly SlotEvidence[];
}

/** Options of {@link detectEvents}. */
export interface DetectEventsOptions {
  /** The model's SKU labels (index 0 is `empty`); the hand head has one more class. */
  readonly labels: readonly string[];
  /** The moments while the door was open, in time order. */
  readonly during: readonly SessionMoment[];
  /** Clear moments a count must hold to be a state. Default 2. */
  readonly minRun?: number;
  /**
   * The slot is clear (its count is read) when the cameras' mean "no hand" probability reaches
   * this. Default 0.3.
   */
  readonly clearAbove?: number;
  /** A hand is over the slot when that mean is below this. Default 0.1. */
  readonly handBelow?: number;
}

interface State {
  readonly count: number;
  readonly p: number;
  /** First and last moment index of the run (-1 / during.length for the anchors). */
  readonly from: number;
  readonly to: number;
}

const key = (e: { shelf: number; slot: number }) => `${e.shelf}/${e.slot}`;

function pooledCount(e: SlotEvidence): [number, number] | undefined {
  const classes = e.views[0]?.count.length;
  if (!classes) return undefined;
  return mostLikely(poolViews(e.views.map((v) => v.count), classes));
}

/** The take and return events of a session, in time order; no hand head in the views, none. */
export function detectEvents(
  before: readonly SlotEvidence[],
  after: readonly SlotEvidence[],
  options: DetectEventsOptions,
): ItemEvent[] {
  const { labels, during } = options;
  const minRun = options.minRun ?? 2;
  const clearAbove = options.clearAbove ?? 0.3;
  const handBelow = options.handBelow ?? 0.1;
  const handClasses = labels.length + 1;
  const events: ItemEvent[] = [];
  const afterBySlot = new Map(after.map((e) => [key(e), e]));
  const bySlot = new Map<string, Array<SlotEvidence | undefined>>();
  during.forEach((m, i) => {
    for (const e of m.slots) {
      const row = bySlot.get(key(e)) ?? new Array<SlotEvidence | undefined>(during.length);
      row[i] = e;
      bySlot.set(key(e), row);
    }
  });
  for (const b of before) {
    const a = afterBySlot.get(key(b));
    const first = pooledCount(b);
    const last = a && pooledCount(a);
    const row = bySlot.get(key(b)) ?? [];
    if (!first || !last || !b.sku) continue;
    // Per moment: how sure the cameras are, on average, that no hand is over the slot (their
    // views are alike, so averaged rather than multiplied): a clear slot's count is read, a hand
    // is there when they are sure of it, and in between neither.
    const hand: boolean[] = [];
    const counts: Array<[number, number] | undefined> = [];
    let seen = false;
    for (let i = 0; i < during.length; i++) {
      const e = row[i];
      const views = e?.views.filter((v) => v.hand?.length === handClasses) ?? [];
      hand[i] = false;
      if (!e || views.length === 0) continue;
      seen = true;
      const clear = views.reduce((sum, v) => sum + v.hand![0]!, 0) / views.length;
      if (clear >= clearAbove) counts[i] = pooledCount(e);
      hand[i] = clear < handBelow;
    }
    if (!seen) continue; // a model without a hand head: no events
    /** The middle of the last stretch of moments with a hand over the slot in (from, to), or -1. */
    const visit = (from: number, to: number) => {
      let end = to - 1;
      while (end > from && !hand[end]) end--;
      if (end <= from) return -1;
      let start = end;
      while (start - 1 > from && hand[start - 1]) start--;
      return Math.floor((start + end) / 2);
    };
    // States: runs of the same count over clear moments, anchored by before and after. A new
    // count is a state only when a hand was over the slot since the last state (a unit leaves or
    // arrives in a hand); a count that changes without one is a misreading.
    const states: State[] = [{ count: first[0], p: first[1], from: -1, to: -1 }];
    let run: { count: number; ps: number[]; from: number; to: number } | undefined;
    // Every run long enough to be a state, kept or not: where a count was first seen.
    const runs: Array<{ count: number; from: number }> = [];
    const close = () => {
      if (!run || run.ps.length < minRun) return;
      runs.push({ count: run.count, from: run.from });
      const top = states.at(-1)!;
      if (run.count === top.count) {
        states[states.length - 1] = { ...top, to: run.to };
      } else if (visit(top.to, run.from) >= 0) {
        const p = run.ps.reduce((x, y) => x + y, 0) / run.ps.length;
        states.push({ count: run.count, p, from: run.from, to: run.to });
      }
    };
    counts.forEach((c, i) => {
      if (!c) return;
      if (run && run.count === c[0]) {
        run.ps.push(c[1]);
        run.to = i;
        return;
      }
      close();
      run = { count: c[0], ps: [c[1]], from: i, to: i };
    });
    close();
    const end = { count: last[0], p: last[1], from: during.length, to: during.length };
    if (states.at(-1)!.count === end.count) {
      if (states.length === 1) continue; // nothing changed in this slot
      const s = states.pop()!;
      states.push({ ...s, p: Math.min(s.p, end.p) });
    } else states.push(end);
    for (let k = 1; k < states.length; k++) {
      const u = states[k - 1]!;
      const v = states[k]!;
      // The new count was first seen at the earliest run of it after the old state (a hand
      // the model missed does not delay it to the next state or the door's closing).
      const seenFrom = Math.min(
        v.from,
        ...runs.filter((r) => r.count === v.count && r.from > u.to).map((r) => r.from),
      );
      // The hand's last visit to the slot before that; without one, just before that moment.
      const moment = visit(u.to, Math.min(during.length, seenFrom));
      const j = Math.min(during.length, seenFrom);
      let at = Math.round(
        ((during[j - 1]?.ts ?? during[0]?.ts ?? 0) + (during[j]?.ts ?? during.at(-1)?.ts ?? 0)) /
          2,
      );
      let cameraId = b.views[0]?.cameraId ?? "";
      if (moment >= 0) {
        at = Math.round(during[moment]!.ts); // reference-clock frame times are fractional
        const views = row[moment]!.views.filter((x) => x.hand?.length === handClasses);
        cameraId = views.reduce((best, x) => (x.hand![0]! < best.hand![0]! ? x : best)).cameraId;
      }
      const kind = v.count < u.count ? "take" : "return";
      const confidence = Math.min(u.p, v.p);
      for (let n = Math.abs(u.count - v.count); n > 0; n--) {
        events.push({ kind, sku: b.sku, shelf: b.shelf, slot: b.slot, at, confidence, cameraId });
      }
    }
  }
  events.sort((x, y) => x.at - y.at || x.shelf - y.shelf || x.slot - y.slot);
  return events;
}

/**
 * The sorted device ids the device list pages over, overall and per status, rebuilt only after
 * membership changes (followed on the replicas).
 *
 * @module
 */
import type { FleetState } from "../fleet/mod.ts";

/** Sorted device ids, overall and per status, kept over the registry and status replicas. */
export class DeviceIndex {
  readonly #state: FleetState;
  #sorted: string[] | undefined;
  readonly #members = new Map<string, Set<string>>([
    ["online", new Set()],
    ["offline", new Set()],
  ]);
  readonly #sortedMembers = new Map<string, string[]>();

  /** Follows `state`'s devices and statuses from now on. */
  constructor(state: FleetState) {
    this.#state = state;
    for (const [id, e] of state.statuses.entries()) this.#members.get(e.value.status)?.add(id);
    state.devices.onChange((key, entry) => {
      if (entry === undefined || !state.statuses.get(key)) this.#sorted = undefined;
    });
    state.statuses.onChange((key, entry) => {
      if (entry === undefined || entry.revision === state.statuses.firstRevision(key)) {
        this.#sorted = undefined;
      }
      for (const [status, set] of this.#members) {
        const want = entry?.value.status === status;
        if (want !== set.has(key)) {
          if (want) set.add(key);
          else set.delete(key);
          this.#sortedMembers.delete(status);
        }
      }
    });
  }

  /** The ids with `status` ("online" or "offline") sorted, else every known id sorted. */
  sortedIds(status?: string): string[] {
    if (status === "online" || status === "offline") {
      let list = this.#sortedMembers.get(status);
      if (!list) this.#sortedMembers.set(status, list = [...this.#members.get(status)!].sort());
      return list;
    }
    if (this.#sorted) return this.#sorted;
    const ids = new Set<string>();
    for (const [id] of this.#state.devices.entries()) ids.add(id);
    for (const [id] of this.#state.statuses.entries()) ids.add(id);
    this.#sorted = [...ids].sort();
    return this.#sorted;
  }
}

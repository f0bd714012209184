import assert from "node:assert/strict";
import { ComponentError } from "./component_registry.ts";
import type { DeviceStatuses } from "./deployment_counts.ts";
import type { Deployment, DeploymentCounts, DeviceDeploymentStatus } from "./deployment_model.ts";
import { failureReason, rolloutPolicy, rolloutStep } from "./deployment_rollout.ts";

const T0 = 1_700_000_000_000;
const ids = (n: number) => Array.from({ length: n }, (_, i) => `d${String(i).padStart(2, "0")}`);

function deployment(over: Partial<Deployment> = {}): Deployment {
  return {
    id: "dep-1",
    targets: [{ component: "detector", version: "1.0.0" }],
    selector: { groups: ["g"] },
    policy: { canary: 1, ratePerMinute: 10, growth: 2, failureThreshold: 0.1 },
    state: "running",
    devices: ids(100),
    assigned: 0,
    createdAt: T0,
    startedAt: T0,
    canaryDoneAt: null,
    reason: null,
    rollbackOf: null,
    ...over,
  };
}

function statuses(entries: Record<string, DeviceDeploymentStatus>): DeviceStatuses {
  return new Map(Object.entries(entries).map(([id, status]) => [id, { status }]));
}

function counts(over: Partial<DeploymentCounts>): DeploymentCounts {
  return {
    unassigned: 0,
    queued: 0,
    downloading: 0,
    installing: 0,
    healthy: 0,
    failed: 0,
    rolled_back: 0,
    superseded: 0,
    cancelled: 0,
    ...over,
  };
}

Deno.test("rolloutPolicy fills the defaults and names the field out of range", () => {
  assert.deepEqual(rolloutPolicy(undefined), {
    canary: 1,
    ratePerMinute: 10,
    growth: 2,
    failureThreshold: 0.1,
  });
  assert.equal(rolloutPolicy({ canary: 0, growth: 1 }).canary, 0);
  for (
    const [partial, field] of [
      [{ canary: 1.5 }, "policy.canary"],
      [{ canary: 1001 }, "policy.canary"],
      [{ ratePerMinute: 0 }, "policy.ratePerMinute"],
      [{ growth: Number.NaN }, "policy.growth"],
      [{ failureThreshold: 2 }, "policy.failureThreshold"],
    ] as const
  ) {
    assert.throws(
      () => rolloutPolicy(partial),
      (e) => e instanceof ComponentError && e.field === field,
    );
  }
  assert.throws(() => rolloutPolicy({ ratePerMinute: 0 }), {
    message: "policy.ratePerMinute must be 1-1000000, got 0",
  });
});

Deno.test("failureReason aborts only past the threshold of finished devices", () => {
  const policy = rolloutPolicy({ failureThreshold: 0.25 });
  assert.equal(failureReason(counts({ queued: 5 }), policy), null);
  assert.equal(failureReason(counts({ healthy: 3, failed: 1 }), policy), null);
  assert.equal(
    failureReason(counts({ healthy: 2, failed: 1, rolled_back: 1 }), policy),
    "2 of 4 devices failed (threshold 0.25)",
  );
  // A threshold of 0 aborts on the first failure, never on none.
  const strict = rolloutPolicy({ failureThreshold: 0 });
  assert.equal(failureReason(counts({ healthy: 9 }), strict), null);
  assert.equal(failureReason(counts({ failed: 1 }), strict), "1 of 1 devices failed (threshold 0)");
});

Deno.test("rolloutStep starts the canaries alone, then the rate once they have finished", () => {
  const d = deployment({ policy: rolloutPolicy({ canary: 2 }) });
  const list = d.devices;
  const first = rolloutStep(d, { now: T0, list, statuses: undefined });
  assert.deepEqual(first.next, ["d00", "d01"]);
  assert.equal(first.updated.assigned, 2);
  assert.equal(first.updated.canaryDoneAt, null);
  // Started, not finished: nothing more.
  const waiting = rolloutStep(first.updated, {
    now: T0 + 60_000,
    list,
    statuses: statuses({ d00: "healthy", d01: "installing" }),
  });
  assert.deepEqual(waiting.next, []);
  // Finished: the canaries' end is noted, and at least one device follows at once.
  const done = rolloutStep(first.updated, {
    now: T0 + 120_000,
    list,
    statuses: statuses({ d00: "healthy", d01: "failed" }),
  });
  assert.equal(done.updated.canaryDoneAt, T0 + 120_000);
  assert.deepEqual(done.next, ["d02"]);
  assert.equal(done.updated.state, "running");
});

Deno.test("rolloutStep's rate grows by the factor each whole minute", () => {
  const d = deployment({ canaryDoneAt: T0, policy: rolloutPolicy({ canary: 0 }), assigned: 0 });
  const at = (ms: number) => rolloutStep(d, { now: T0 + ms, list: d.devices, statuses: undefined });
  assert.equal(at(0).next.length, 1); // never none
  assert.equal(at(30_000).next.length, 5); // half a minute of 10
  assert.equal(at(60_000).next.length, 10);
  assert.equal(at(90_000).next.length, 20); // 10, then half a minute of 20
  assert.equal(at(180_000).next.length, 70); // 10 + 20 + 40
  assert.equal(at(600_000).next.length, 100); // never past the devices
  // Only the devices not started yet.
  const later = rolloutStep({ ...d, assigned: 10 }, {
    now: T0 + 90_000,
    list: d.devices,
    statuses: undefined,
  });
  assert.deepEqual(later.next, ids(20).slice(10));
  assert.equal(later.updated.assigned, 20);
});

Deno.test("rolloutStep completes a deployment once every device has finished", () => {
  const d = deployment({ devices: ids(3), assigned: 3, canaryDoneAt: T0 });
  const statusesOf = (last: DeviceDeploymentStatus) =>
    statuses({ d00: "healthy", d01: "superseded", d02: last });
  const open = rolloutStep(d, { now: T0, list: d.devices, statuses: statusesOf("downloading") });
  assert.equal(open.updated.state, "running");
  const ended = rolloutStep(d, { now: T0, list: d.devices, statuses: statusesOf("cancelled") });
  assert.equal(ended.updated.state, "completed");
  assert.deepEqual(ended.next, []);
});

Deno.test("rolloutStep in a region counts and claims the region's devices only", () => {
  const d = deployment({
    devices: ids(6),
    policy: rolloutPolicy({ canary: 1 }),
    assigned: 2,
    assignedIn: { far: 2 },
    canaryDoneAtIn: { far: T0 },
  });
  const mine = ["d01", "d03", "d05"];
  const first = rolloutStep(d, { now: T0, list: mine, statuses: undefined, region: "near" });
  assert.deepEqual(first.next, ["d01"]);
  assert.deepEqual(first.updated.assignedIn, { far: 2, near: 1 });
  assert.equal(first.updated.assigned, 3);
  assert.deepEqual(first.updated.canaryDoneAtIn, { far: T0, near: null });
  assert.equal(first.updated.canaryDoneAt, null); // the region's own, not the deployment's
  const next = rolloutStep(first.updated, {
    now: T0 + 60_000,
    list: mine,
    statuses: statuses({ d01: "healthy" }),
    region: "near",
  });
  assert.deepEqual(next.next, ["d03"]);
  assert.deepEqual(next.updated.canaryDoneAtIn, { far: T0, near: T0 + 60_000 });
  assert.deepEqual(next.updated.assignedIn, { far: 2, near: 2 });
});

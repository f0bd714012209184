import assert from "node:assert/strict";
import { allFinal, assignedDevices, countDevices } from "./deployment_counts.ts";
import type { Deployment } from "./deployment_model.ts";

const d: Deployment = {
  id: "dep-1",
  targets: [{ component: "detector", version: "1.0.0" }],
  selector: { groups: ["g"] },
  policy: { canary: 1, ratePerMinute: 10, growth: 2, failureThreshold: 0.1 },
  state: "running",
  devices: ["a", "b", "c", "d"],
  assigned: 3,
  createdAt: 0,
  startedAt: 0,
  canaryDoneAt: 0,
  reason: null,
  rollbackOf: null,
};

Deno.test("countDevices counts the started devices by status, unseen ones as queued", () => {
  const statuses = new Map([["a", { status: "healthy" as const }], ["b", {
    status: "failed" as const,
  }]]);
  assert.deepEqual(countDevices(d, statuses), {
    unassigned: 1,
    queued: 1,
    downloading: 0,
    installing: 0,
    healthy: 1,
    failed: 1,
    rolled_back: 0,
    superseded: 0,
    cancelled: 0,
  });
  assert.equal(countDevices(d, undefined).queued, 3);
});

Deno.test("assignedDevices: the first ones, or in a supercluster those the view holds", () => {
  assert.deepEqual(assignedDevices(d, undefined), ["a", "b", "c"]);
  const regional = { ...d, assigned: 2, assignedIn: { x: 1, y: 1 } };
  const statuses = new Map([["d", { status: "queued" as const }], ["b", {
    status: "healthy" as const,
  }]]);
  assert.deepEqual(assignedDevices(regional, statuses), ["b", "d"]);
  assert.deepEqual(assignedDevices(regional, undefined), []);
});

Deno.test("allFinal looks at the first n devices only", () => {
  const statuses = new Map([["a", { status: "cancelled" as const }], ["b", {
    status: "downloading" as const,
  }]]);
  assert.equal(allFinal(statuses, d.devices, { n: 1 }), true);
  assert.equal(allFinal(statuses, d.devices, { n: 2 }), false);
  assert.equal(allFinal(undefined, d.devices, { n: 0 }), true);
});

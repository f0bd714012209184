/**
 * Field accuracy routes: how recognition does where customers pay, per machine and model
 * version, hour by hour (sessions, charged without review, sent to review by reason, corrected
 * by the reviewer, disputes and disputes upheld), from the payment service's counts.
 *
 * @module
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AccuracyCounts, AccuracyReport } from "../checkout/mod.ts";
import type { FleetEnv } from "./fleet_env.ts";
import { need } from "./need_role.ts";
import { json, problemResponses, security } from "./openapi_common.ts";
import { MachineId, type PaymentDeps } from "./_payment_common.ts";

const Counts = z.object({
  sessions: z.int(),
  chargedWithoutReview: z.int(),
  review: z.int(),
  reasons: z.record(z.string(), z.int()),
  corrected: z.int(),
  disputes: z.int(),
  disputesUpheld: z.int(),
  /** Shares of `sessions`, 0..1 (0 without sessions). */
  reviewRate: z.number(),
  chargedWithoutReviewRate: z.number(),
}).openapi("AccuracyCounts");

const Report = z.object({
  since: z.int(),
  hours: z.array(Counts.extend({
    machineId: z.string(),
    modelVersion: z.string(),
    hour: z.int(),
  })),
  byModel: z.record(z.string(), Counts),
  byMachine: z.record(z.string(), Counts),
  totals: Counts,
}).openapi("AccuracyReport");

const Hours = z.coerce.number().int().min(1).max(8784).default(168).openapi({
  description: "The last this many hours (default 168: a week)",
});

const machineAccuracy = createRoute({
  method: "get",
  path: "/machines/{id}/accuracy",
  tags: ["accuracy"],
  summary: "A machine's field accuracy per model version, hour by hour",
  security,
  request: { params: z.object({ id: MachineId }), query: z.object({ hours: Hours }) },
  responses: { 200: json(Report, "Field accuracy"), ...problemResponses },
});

const fleetAccuracy = createRoute({
  method: "get",
  path: "/accuracy",
  tags: ["accuracy"],
  summary: "The region's field accuracy per model version and machine",
  security,
  request: {
    query: z.object({
      hours: Hours,
      model: z.string().regex(/^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/).optional().openapi({
        description: "Only this model version",
      }),
    }),
  },
  responses: { 200: json(Report, "Field accuracy"), ...problemResponses },
});

function withRates<T extends AccuracyCounts>(c: T): T & {
  reviewRate: number;
  chargedWithoutReviewRate: number;
} {
  const share = (n: number) => (c.sessions ? Math.round((n / c.sessions) * 10000) / 10000 : 0);
  return {
    ...c,
    reviewRate: share(c.review),
    chargedWithoutReviewRate: share(c.chargedWithoutReview),
  };
}

/** The report as the API shows it: every count with its rates. */
export function accuracyView(r: AccuracyReport): z.infer<typeof Report> {
  const each = (o: Readonly<Record<string, AccuracyCounts>>) =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, withRates(v)]));
  return {
    since: r.since,
    hours: r.hours.map(withRates),
    byModel: each(r.byModel),
    byMachine: each(r.byMachine),
    totals: withRates(r.totals),
  };
}

/** `GET /machines/{id}/accuracy` and `GET /accuracy` (viewer), from `deps.payments.accuracy`. */
export function fieldAccuracyApi(deps: PaymentDeps): OpenAPIHono<FleetEnv> {
  const app = new OpenAPIHono<FleetEnv>();
  app.openapi(machineAccuracy, async (c) => {
    const { id } = c.req.valid("param");
    const { hours } = c.req.valid("query");
    await need(c, deps, "viewer", "accuracy.read", `machine/${id}`);
    return c.json(accuracyView(await deps.payments.accuracy.machine(id, { hours })), 200);
  });
  app.openapi(fleetAccuracy, async (c) => {
    const { hours, model } = c.req.valid("query");
    await need(c, deps, "viewer", "accuracy.read", "fleet");
    const report = await deps.payments.accuracy.fleet({
      hours,
      ...(model ? { modelVersion: model } : {}),
    });
    return c.json(accuracyView(report), 200);
  });
  return app;
}

/**
 * The dashboard's field accuracy pages: the region's (`/accuracy`, per model version and machine)
 * and a machine's (`/machines/ID/accuracy`), each with a plot over time of the share of sessions
 * sent to review per model version, hour by hour, and the counts (sessions, charged without
 * review, sent to review by reason, corrected by the reviewer, disputes, disputes upheld). For a
 * browser; the JSON API answers the rest.
 *
 * @module
 */
import { Hono } from "hono";
import type { FC } from "hono/jsx";
import type { AccuracyCounts, AccuracyReport } from "../checkout/mod.ts";
import { accuracyView, type FleetEnv, type PaymentDeps } from "../http/mod.ts";
import { actorOf, Layout, requireSession } from "./_dashboard_kit.tsx";

const MACHINE = ":id{[a-z0-9][a-z0-9-]{0,62}}";
const HOUR_MS = 3_600_000;
const COLORS = ["#c0392b", "#2471a3", "#7d3c98", "#1e8449", "#b9770e"];
const W = 720, H = 200, PAD = 30;

const pct = (n: number, of: number) => (of ? `${Math.round((n / of) * 1000) / 10}%` : "–");

/**
 * The review rate per model version over the span, one polyline each (x: hour, y: 0..100%),
 * each point `data-hour` and `data-rate` for whoever reads the plot's numbers.
 */
const Plot: FC<{ report: AccuracyReport; hours: number }> = ({ report, hours }) => {
  const versions = Object.keys(report.byModel).sort();
  const x = (hour: number) => PAD + ((hour - report.since) / (hours * HOUR_MS)) * (W - 2 * PAD);
  const y = (rate: number) => H - PAD - rate * (H - 2 * PAD);
  return (
    <svg id="review-plot" width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img">
      <title>Share of sessions sent to review, per hour and model version</title>
      <line x1={PAD} y1={y(0)} x2={W - PAD} y2={y(0)} stroke="#999" />
      <line x1={PAD} y1={y(1)} x2={PAD} y2={y(0)} stroke="#999" />
      <text x={2} y={y(1) + 4} font-size="10">100%</text>
      <text x={8} y={y(0) + 4} font-size="10">0%</text>
      <text x={PAD} y={H - 8} font-size="10">
        {new Date(report.since).toISOString().slice(0, 13)}h
      </text>
      <text x={W - PAD - 60} y={H - 8} font-size="10">now</text>
      {versions.map((v, i) => {
        // Hours of this model version, the machines of an hour summed.
        const byHour = new Map<number, AccuracyCounts>();
        for (const h of report.hours.filter((h) => h.modelVersion === v)) {
          const c = byHour.get(h.hour) ?? { ...h, sessions: 0, review: 0 };
          byHour.set(h.hour, {
            ...c,
            sessions: c.sessions + h.sessions,
            review: c.review + h.review,
          });
        }
        const points = [...byHour].filter(([, c]) => c.sessions > 0).sort(([a], [b]) => a - b);
        const color = COLORS[i % COLORS.length]!;
        return (
          <g data-model={v} key={v}>
            <polyline
              fill="none"
              stroke={color}
              stroke-width="2"
              points={points.map(([h, c]) => `${x(h + HOUR_MS / 2)},${y(c.review / c.sessions)}`)
                .join(" ")}
            />
            {points.map(([h, c]) => (
              <circle
                key={h}
                cx={x(h + HOUR_MS / 2)}
                cy={y(c.review / c.sessions)}
                r="3"
                fill={color}
                data-hour={String(h)}
                data-rate={String(Math.round((c.review / c.sessions) * 10000) / 10000)}
              />
            ))}
            <text x={W - PAD - 150} y={PAD + 12 * i} font-size="11" fill={color}>model {v}</text>
          </g>
        );
      })}
    </svg>
  );
};

/** One row of counts. */
const Row: FC<{ name: string; c: AccuracyCounts; kind: string }> = ({ name, c, kind }) => (
  <tr data-row={`${kind}:${name}`}>
    <td>{name}</td>
    <td data-col="sessions">{String(c.sessions)}</td>
    <td data-col="charged">
      {String(c.chargedWithoutReview)} ({pct(c.chargedWithoutReview, c.sessions)})
    </td>
    <td data-col="review">{String(c.review)} ({pct(c.review, c.sessions)})</td>
    <td data-col="corrected">{String(c.corrected)}</td>
    <td data-col="disputes">{String(c.disputes)}</td>
    <td data-col="upheld">{String(c.disputesUpheld)}</td>
  </tr>
);

const Counts: FC<{ rows: Readonly<Record<string, AccuracyCounts>>; kind: string; id: string }> = (
  { rows, kind, id },
) => (
  <table id={id}>
    <thead>
      <tr>
        <th>{kind === "model" ? "Model version" : "Machine"}</th>
        <th>Sessions</th>
        <th>Charged without review</th>
        <th>Sent to review</th>
        <th>Corrected</th>
        <th>Disputes</th>
        <th>Upheld</th>
      </tr>
    </thead>
    <tbody>
      {Object.keys(rows).length === 0
        ? (
          <tr>
            <td colspan={7} style="color:#888">No sessions in this span</td>
          </tr>
        )
        : Object.entries(rows).sort(([a], [b]) => a.localeCompare(b)).map(([name, c]) => (
          <Row key={name} name={name} c={c} kind={kind} />
        ))}
    </tbody>
  </table>
);

const Reasons: FC<{ totals: AccuracyCounts }> = ({ totals }) => (
  <table id="reasons">
    <thead>
      <tr>
        <th>Why sessions went to review</th>
        <th>Sessions</th>
      </tr>
    </thead>
    <tbody>
      {Object.entries(totals.reasons).sort(([, a], [, b]) => b - a).map(([reason, n]) => (
        <tr key={reason} data-reason={reason}>
          <td>{reason}</td>
          <td>{String(n)}</td>
        </tr>
      ))}
    </tbody>
  </table>
);

const Page: FC<
  { title: string; user: string; report: AccuracyReport; hours: number; machines: boolean }
> = (
  { title, user, report, hours, machines },
) => (
  <Layout title={title} user={user}>
    <h1>{title}</h1>
    <p>
      Last {String(hours)} hours · {String(report.totals.sessions)} sessions ·{" "}
      <span id="review-rate">{pct(report.totals.review, report.totals.sessions)}</span>{" "}
      sent to review · <a href="?hours=24">24 h</a> · <a href="?hours=168">7 days</a> ·{" "}
      <a href="?hours=720">30 days</a>
    </p>
    <Plot report={report} hours={hours} />
    <h2>By model version</h2>
    <Counts rows={report.byModel} kind="model" id="by-model" />
    {machines
      ? (
        <>
          <h2>By machine</h2>
          <Counts rows={report.byMachine} kind="machine" id="by-machine" />
        </>
      )
      : null}
    <h2>Review reasons</h2>
    <Reasons totals={report.totals} />
    <script
      type="application/json"
      id="accuracy-data"
      dangerouslySetInnerHTML={{
        __html: JSON.stringify(accuracyView(report)).replace(/</g, "\\u003c"),
      }}
    />
  </Layout>
);

function hoursOf(value: string | undefined): number {
  const n = Number(value ?? 168);
  return Number.isInteger(n) && n >= 1 && n <= 8784 ? n : 168;
}

/** The field accuracy pages (`/accuracy`, `/machines/ID/accuracy`), for a browser. */
export function accuracyDashboard(deps: PaymentDeps): Hono<FleetEnv> {
  const app = new Hono<FleetEnv>();
  app.get("/accuracy", async (c, next) => {
    if (!c.req.header("accept")?.includes("text/html")) return next(); // the JSON API answers
    const refused = requireSession(c);
    if (refused) return refused;
    const actor = actorOf(c)!;
    const hours = hoursOf(c.req.query("hours"));
    const report = await deps.payments.accuracy.fleet({ hours });
    return c.html(
      <Page
        title="Field accuracy"
        user={`${actor.subject} (${actor.role})`}
        report={report}
        hours={hours}
        machines
      />,
    );
  });
  app.get(`/machines/${MACHINE}/accuracy`, async (c, next) => {
    if (!c.req.header("accept")?.includes("text/html")) return next();
    const refused = requireSession(c);
    if (refused) return refused;
    const actor = actorOf(c)!;
    const id = c.req.param("id");
    const hours = hoursOf(c.req.query("hours"));
    const report = await deps.payments.accuracy.machine(id, { hours });
    return c.html(
      <Page
        title={`${id}: field accuracy`}
        user={`${actor.subject} (${actor.role})`}
        report={report}
        hours={hours}
        machines={false}
      />,
    );
  });
  return app;
}

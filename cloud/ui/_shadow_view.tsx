/**
 * A shadow deployment's comparison on its page: the live model and the candidate side by side
 * (charges right and wrong on reviewed sessions, exact carts, review rate, inference time), how
 * often they agree, the promotion policy's verdict, and a bar plot of the two models' figures.
 *
 * @module
 */
import type { FC } from "hono/jsx";
import type { ModelScore, ShadowComparison } from "../datasets/mod.ts";
import type { ShadowPromotion } from "../updates/mod.ts";

const W = 420;
const H = 150;

const pct = (x: number | null) => (x === null ? "-" : `${(100 * x).toFixed(1)}%`);

/** Bars of the live model's and the candidate's figures, each scaled to the larger of the two. */
const ComparisonPlot: FC<{ c: ShadowComparison }> = ({ c }) => {
  const rows: [string, (s: ModelScore) => number][] = [
    ["right charges", (s) => s.rightCharges],
    ["wrong charges", (s) => s.wrongCharges],
    ["exact carts", (s) => s.exact],
    ["review rate", (s) => s.reviewRate],
    ["ms per session", (s) => s.meanMs ?? 0],
  ];
  const rowH = (H - 20) / rows.length;
  return (
    <svg id="shadow-plot" width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img">
      <title>Live model (grey) and candidate (blue), each figure scaled to the larger</title>
      {rows.map(([name, of], i) => {
        const live = of(c.live);
        const cand = of(c.candidateScore);
        const top = Math.max(live, cand) || 1;
        const y = 10 + i * rowH;
        const bar = (v: number) => Math.round((v / top) * (W - 140));
        return (
          <g key={name} data-figure={name}>
            <text x={0} y={y + rowH / 2} font-size="11">{name}</text>
            <rect x={110} y={y + 2} width={bar(live)} height={rowH / 2 - 3} fill="#999" />
            <rect x={110} y={y + rowH / 2} width={bar(cand)} height={rowH / 2 - 3} fill="#1d70b8" />
          </g>
        );
      })}
    </svg>
  );
};

/** What became of the comparison: still compared, or promoted or stopped (why, and by what). */
const PromotionLine: FC<{ p: ShadowPromotion }> = ({ p }) => (
  <p id="shadow-promotion" data-state={p.state}>
    {p.state === "comparing"
      ? `Compared until ${p.minReviewed} of its sessions are reviewed; then promoted (rolled out live) when at least as good, stopped when worse.`
      : `${p.state === "promoted" ? "Promoted" : "Stopped"} ${
        p.decidedAt ? new Date(p.decidedAt).toISOString() : ""
      }: ${p.reason ?? ""} `}
    {p.followUp ? <a href={`/deployments/${p.followUp}`}>deployment {p.followUp}</a> : null}
  </p>
);

/** The comparison table, verdict and plot, and what became of the comparison when it has a policy. */
export const ShadowSection: FC<{ c: ShadowComparison; promotion?: ShadowPromotion | undefined }> = (
  { c, promotion }: { c: ShadowComparison; promotion?: ShadowPromotion | undefined },
): ReturnType<FC> => (
  <section id="shadow">
    <h2>Shadow evaluation of {c.candidate}</h2>
    <p id="shadow-verdict" data-verdict={c.verdict.state}>
      <b>{c.verdict.state}</b>: {c.verdict.reason}
    </p>
    {promotion ? <PromotionLine p={promotion} /> : null}
    <p>
      {c.sessions} sessions decided by both models, {c.reviewed} reviewed by a person; they agree on
      {" "}
      {pct(c.agreement)}.
    </p>
    <table>
      <thead>
        <tr>
          <th>Model</th>
          <th>Right charges</th>
          <th>Wrong charges</th>
          <th>Exact</th>
          <th>Review rate</th>
          <th>ms per session</th>
        </tr>
      </thead>
      <tbody>
        {([["live", c.live], ["candidate", c.candidateScore]] as const).map(([who, s]) => (
          <tr key={who} data-model={who}>
            <td>{who} {s.versions.join(", ")}</td>
            <td>{s.rightCharges}</td>
            <td>{s.wrongCharges}</td>
            <td>{s.exact}</td>
            <td>{pct(s.reviewRate)}</td>
            <td>{s.meanMs === null ? "-" : s.meanMs.toFixed(1)}</td>
          </tr>
        ))}
      </tbody>
    </table>
    <ComparisonPlot c={c} />
  </section>
);

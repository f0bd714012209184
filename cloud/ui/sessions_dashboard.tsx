/**
 * The dashboard's payment pages. Sessions: the review queue (oldest first) and the sessions that
 * changed most recently, with cart, amount and door-close-to-receipt latency, kept live from the
 * PAYMENTS subjects. A session's page: its state and money, the inferred cart with the device's
 * confidence per line, the door session's clips playing in the page, and for an operator the
 * review form (correct the quantities, add a product, approve), after which the capture follows
 * and the page shows it (`session_detail_dashboard.tsx`).
 *
 * @module
 */
import { Hono } from "hono";
import type { FC } from "hono/jsx";
import type { FleetEnv, PaymentDeps } from "../http/mod.ts";
import type { PaymentSessionDetail } from "../checkout/mod.ts";
import {
  actorOf,
  Layout,
  live,
  LIVE_SCRIPT,
  requireSession,
  userLabel,
} from "./_dashboard_kit.tsx";
import { cartText, money, onPayments, time } from "./_sessions_kit.ts";
import { sessionDetailDashboard } from "./session_detail_dashboard.tsx";

const Queue: FC<{ items: PaymentSessionDetail[] }> = ({ items }) => (
  <tbody id="queue">
    {items.length === 0
      ? (
        <tr>
          <td colspan={5} style="color:#888">Nothing to review</td>
        </tr>
      )
      : items.map(({ session: s }) => (
        <tr key={s.sessionId} data-session={s.sessionId}>
          <td>
            <a href={`/sessions/${s.sessionId}`}>{s.sessionId}</a>
          </td>
          <td>{s.machineId}</td>
          <td>{cartText(s.deviceCart)}</td>
          <td>{s.confidence === null ? "-" : s.confidence.toFixed(2)}</td>
          <td class="review">{s.reviewReasons.join("; ")}</td>
        </tr>
      ))}
  </tbody>
);

const Recent: FC<{ items: PaymentSessionDetail[] }> = ({ items }) => (
  <tbody id="recent">
    {items.map(({ session: s, closedAt, receiptAt }) => (
      <tr key={s.sessionId} data-session={s.sessionId}>
        <td>
          <a href={`/sessions/${s.sessionId}`}>{s.sessionId}</a>
        </td>
        <td>{s.machineId}</td>
        <td class={s.state} data-state>{s.state}</td>
        <td>{cartText(s.cart ?? s.deviceCart)}</td>
        <td data-amount>{money(s.receiptTotal ?? (s.captured || null), s.currency)}</td>
        <td data-latency>
          {closedAt && receiptAt ? `${Math.max(0, receiptAt - closedAt)} ms` : "-"}
        </td>
        <td>{time(s.updatedAt)}</td>
      </tr>
    ))}
  </tbody>
);

/** The sessions page (`/sessions`: review queue and recent sessions) and its live stream. */
function sessionsList(deps: PaymentDeps): Hono<FleetEnv> {
  const p = deps.payments;
  const app = new Hono<FleetEnv>();

  app.get("/sessions", async (c) => {
    const refused = requireSession(c);
    if (refused) return refused;
    const [queue, recent] = await Promise.all([p.reviewQueue({ limit: 100 }), p.recent()]);
    return c.html(
      <Layout title="Sessions" user={userLabel(c)}>
        <h1>Sessions</h1>
        <h2>Review queue</h2>
        <table>
          <thead>
            <tr>
              <th>Session</th>
              <th>Machine</th>
              <th>Inferred cart</th>
              <th>Confidence</th>
              <th>Why</th>
            </tr>
          </thead>
          <Queue items={queue} />
        </table>
        <h2>Recent sessions</h2>
        <table>
          <thead>
            <tr>
              <th>Session</th>
              <th>Machine</th>
              <th>State</th>
              <th>Cart</th>
              <th>Amount</th>
              <th>Door close to receipt</th>
              <th>Updated</th>
            </tr>
          </thead>
          <Recent items={recent} />
        </table>
        <script dangerouslySetInnerHTML={{ __html: LIVE_SCRIPT }} />
      </Layout>,
    );
  });

  app.get("/live/sessions", (c) => {
    if (!actorOf(c)) return c.body(null, 401);
    return live(c, async () => {
      const [queue, recent] = await Promise.all([p.reviewQueue({ limit: 100 }), p.recent()]);
      return {
        queue: await (<Queue items={queue} />).toString(),
        recent: await (<Recent items={recent} />).toString(),
      };
    }, (dirty) => onPayments(deps, dirty));
  });
  return app;
}

/** The sessions pages, their live streams and the clip player's source, as a sub-app. */
export function sessionsDashboard(deps: PaymentDeps): Hono<FleetEnv> {
  const app = new Hono<FleetEnv>();
  app.route("/", sessionsList(deps));
  app.route("/", sessionDetailDashboard(deps));
  return app;
}

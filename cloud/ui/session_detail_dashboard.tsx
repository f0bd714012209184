/**
 * A payment session's page in the dashboard (`/sessions/ID`): its state and money, the door
 * session's clips playing in the page (`/sessions/ID/clip`), the inferred cart with the device's
 * confidence per line, and for an operator while it waits for review the review form (correct the
 * quantities, add a product, approve); kept live (`/live/sessions/ID`) from its payment events.
 *
 * @module
 */
import { Hono } from "hono";
import type { FC } from "hono/jsx";
import type { PriceList } from "../../payments/mod.ts";
import { allows } from "../auth/mod.ts";
import type { FleetEnv, PaymentDeps } from "../http/mod.ts";
import { type PaymentSessionDetail, PriceListNotFoundError } from "../checkout/mod.ts";
import {
  actorOf,
  Layout,
  live,
  LIVE_SCRIPT,
  requireSession,
  userLabel,
} from "./_dashboard_kit.tsx";
import { cartText, ID, money, notFound, onPayments, time } from "./_sessions_kit.ts";

const Summary: FC<{ d: PaymentSessionDetail }> = ({ d }) => {
  const s = d.session;
  return (
    <dl id="session">
      <dt>State</dt>
      <dd class={s.state} data-state>{s.state}</dd>
      <dt>Machine</dt>
      <dd>{s.machineId}</dd>
      <dt>Customer</dt>
      <dd>{s.customerId}</dd>
      <dt>Hold</dt>
      <dd>{money(s.hold?.amount ?? null, s.currency)}</dd>
      <dt>Charged cart</dt>
      <dd data-cart>{cartText(s.cart)}</dd>
      <dt>Captured</dt>
      <dd data-captured>{money(s.captured, s.currency)}</dd>
      <dt>Released</dt>
      <dd>{money(s.released, s.currency)}</dd>
      <dt>Door closed / receipt</dt>
      <dd>
        {time(d.closedAt)} / {time(d.receiptAt)}
        {d.closedAt && d.receiptAt ? ` (${Math.max(0, d.receiptAt - d.closedAt)} ms)` : ""}
      </dd>
      {s.reviewReasons.length
        ? (
          <>
            <dt>Review</dt>
            <dd class="review">
              {s.reviewReasons.join("; ")}
              {s.reviewer ? ` · decided by ${s.reviewer}` : ""}
            </dd>
          </>
        )
        : null}
      {s.failure
        ? (
          <>
            <dt>Failure</dt>
            <dd class="failed">{s.failure}</dd>
          </>
        )
        : null}
    </dl>
  );
};

/** The session's clips, each playing from the clip route. */
const Clips: FC<{ id: string; clips: readonly string[] }> = ({ id, clips }) => (
  <div id="clips" style="display:flex;gap:12px;flex-wrap:wrap">
    {clips.length === 0
      ? <p style="color:#888">No clips uploaded for this session</p>
      : clips.map((name) => (
        <figure key={name}>
          <video
            controls
            muted
            preload="auto"
            width={320}
            data-clip={name}
            src={`/sessions/${id}/clip?name=${encodeURIComponent(name)}`}
          />
          <figcaption>{name.split("/").at(-1)}</figcaption>
        </figure>
      ))}
  </div>
);

/** The inferred cart's lines, with a quantity input each when the operator can review. */
const CartLines: FC<{ d: PaymentSessionDetail; prices: PriceList; canReview: boolean }> = (
  { d, prices, canReview },
) => (
  <tbody id="cart-lines">
    {(d.session.deviceCart ?? []).map((l) => (
      <tr key={l.sku} data-line={l.sku}>
        <td>
          {l.sku} ({prices.items.get(l.sku)?.name ?? "unknown product"})
        </td>
        <td data-confidence>
          {d.lineConfidence?.[l.sku] === undefined ? "-" : d.lineConfidence[l.sku]!.toFixed(2)}
        </td>
        <td>
          {canReview
            ? (
              <input
                type="number"
                min={0}
                max={1000}
                value={String(l.qty)}
                data-sku={l.sku}
                aria-label={`quantity of ${l.sku}`}
              />
            )
            : l.qty}
        </td>
      </tr>
    ))}
  </tbody>
);

/** The review form for an operator; for another role a session in review says it cannot. */
const Review: FC<
  { id: string; prices: PriceList; canReview: boolean; inReview: boolean; role: string }
> = ({ id, prices, canReview, inReview, role }) =>
  canReview
    ? (
      <div id="review">
        <p>
          <select id="add-sku" aria-label="product to add">
            {[...prices.items].map(([sku, item]) => (
              <option key={sku} value={sku}>{sku} ({item.name})</option>
            ))}
          </select>
          <button type="button" onclick="addLine()">Add product</button>
        </p>
        <p>
          <button type="button" onclick={`approve('${id}')`}>Approve and charge</button>
        </p>
        <p id="review-result"></p>
      </div>
    )
    : inReview
    ? <p style="color:#888">Your role ({role}) can watch but not review.</p>
    : null;

const REVIEW_SCRIPT = `function addLine() {
  const sel = document.getElementById("add-sku");
  const sku = sel.value;
  if (!sku || document.querySelector('input[data-sku="' + sku + '"]')) return;
  const row = document.createElement("tr");
  row.innerHTML = "<td>" + sku + "</td><td>added by you</td><td><input type=number min=0 max=1000 value=1 data-sku='" + sku + "' aria-label='quantity of " + sku + "'></td>";
  document.getElementById("cart-lines").appendChild(row);
}
async function approve(id) {
  const out = document.getElementById("review-result");
  const cart = [...document.querySelectorAll("input[data-sku]")].map((i) => ({ sku: i.dataset.sku, qty: Number(i.value) })).filter((l) => l.qty > 0);
  out.textContent = "sending";
  const r = await fetch("/payments/sessions/" + id + "/review", { method: "POST", headers: { "content-type": "application/json", "x-vend-csrf": "1" }, body: JSON.stringify({ cart }) });
  const body = await r.json();
  out.textContent = r.ok ? "approved: " + body.state + ", captured " + (body.captured / 100).toFixed(2) + " " + body.currency : "refused: " + (body.detail || r.status);
}`;

/** A session's page, its clips' source and its live stream. */
export function sessionDetailDashboard(deps: PaymentDeps): Hono<FleetEnv> {
  const p = deps.payments;
  const app = new Hono<FleetEnv>();

  app.get(`/sessions/:id{${ID}}`, async (c) => {
    const refused = requireSession(c);
    if (refused) return refused;
    const id = c.req.param("id");
    const d = await p.detail(id).catch(notFound);
    if (!d) {
      return c.html(
        <Layout title="Not found" user={userLabel(c)}>No payment session {id}</Layout>,
        404,
      );
    }
    const s = d.session;
    const actor = actorOf(c)!;
    const canReview = s.state === "review" && allows(actor, "operator");
    // The products of the session's price list: what a reviewer can add to its cart.
    const prices = await p.pricesOf(s).catch((e): PriceList => {
      // The revision it was priced at is gone from the book: its receipt's lines stand in.
      if (!(e instanceof PriceListNotFoundError)) throw e;
      return {
        currency: s.currency,
        items: new Map((s.receiptLines ?? []).map((l) => [l.sku, l])),
        version: "unknown",
      };
    });
    const clips = (await p.clips(id)).map((c) => c.name);
    return c.html(
      <Layout title={id} user={userLabel(c)}>
        <h1>Session {id}</h1>
        <Summary d={d} />
        <h2>Clips</h2>
        <Clips id={id} clips={clips} />
        <h2>Inferred cart</h2>
        <p>
          The machine's cart,{" "}
          {s.confidence === null ? "no confidence given" : `confidence ${s.confidence.toFixed(2)}`}
          {canReview
            ? ": correct the quantities (0 removes a line), add what it missed, approve."
            : "."}
        </p>
        <table>
          <thead>
            <tr>
              <th>Product</th>
              <th>Confidence</th>
              <th>Quantity</th>
            </tr>
          </thead>
          <CartLines d={d} prices={prices} canReview={canReview} />
        </table>
        <Review
          id={id}
          prices={prices}
          canReview={canReview}
          inReview={s.state === "review"}
          role={actor.role}
        />
        <script dangerouslySetInnerHTML={{ __html: REVIEW_SCRIPT + "\n" + LIVE_SCRIPT }} />
      </Layout>,
    );
  });

  app.get(`/sessions/:id{${ID}}/clip`, async (c) => {
    if (!actorOf(c)) return c.body(null, 401);
    const id = c.req.param("id");
    const name = c.req.query("name") ?? "";
    if (name.split("/")[1] !== id || !/^[A-Za-z0-9/_.-]{1,200}$/.test(name)) {
      return c.body(null, 404);
    }
    // Only a clip of the session's cabinet, from whichever region's store holds it (none is
    // null; a store that cannot be read propagates).
    const mp4 = await p.clip(id, name);
    if (!mp4) return c.body(null, 404);
    return c.body(mp4 as Uint8Array<ArrayBuffer>, 200, {
      "content-type": "video/mp4",
      "cache-control": "private, max-age=3600",
    });
  });

  app.get(`/live/sessions/:id{${ID}}`, (c) => {
    if (!actorOf(c)) return c.body(null, 401);
    const id = c.req.param("id");
    return live(c, async () => {
      const d = await p.detail(id).catch(notFound);
      return d ? { session: await (<Summary d={d} />).toString() } : {};
    }, (dirty) => onPayments(deps, dirty, { sessionId: id }));
  });
  return app;
}

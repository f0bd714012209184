/**
 * The dashboard's payment pages. Sessions: the review queue (oldest first) and the sessions that
 * changed most recently, with cart, amount and door-close-to-receipt latency, kept live from the
 * PAYMENTS subjects. A session's page: its state and money, the inferred cart with the device's
 * confidence per line, the door session's clips playing in the page, and for an operator the
 * review form (correct the quantities, add a product, approve), after which the capture follows
 * and the page shows it.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { FC } from "hono/jsx";
import type { PriceList } from "../../payments/mod.ts";
import { filters } from "../../protocol/mod.ts";
import { allows } from "../auth/mod.ts";
import type { FleetEnv, PaymentDeps } from "../http/mod.ts";
import {
  PaymentNotFoundError,
  type PaymentSessionDetail,
  PriceListNotFoundError,
} from "../checkout/mod.ts";
import {
  actorOf,
  Layout,
  live,
  LIVE_SCRIPT,
  requireSession,
  userLabel,
} from "./_dashboard_kit.tsx";

const ID = "[A-Za-z0-9][A-Za-z0-9_-]{7,63}";

const money = (minor: number | null, currency: string) =>
  minor === null ? "-" : `${(minor / 100).toFixed(2)} ${currency}`;
const cartText = (cart: readonly { sku: string; qty: number }[] | null) =>
  cart?.length ? cart.map((l) => `${l.qty}× ${l.sku}`).join(", ") : cart ? "empty" : "-";
const time = (ms: number | null) => (ms ? new Date(ms).toISOString().slice(11, 19) : "-");

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

/** Adds the sessions pages, their live streams and the clip player's source to `app`. */
export function sessionsDashboardRoutes(app: OpenAPIHono<FleetEnv>, deps: PaymentDeps): void {
  const p = deps.payments;

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
    const lines = s.deviceCart ?? [];
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
          <tbody id="cart-lines">
            {lines.map((l) => (
              <tr key={l.sku} data-line={l.sku}>
                <td>
                  {l.sku} ({prices.items.get(l.sku)?.name ?? "unknown product"})
                </td>
                <td data-confidence>
                  {d.lineConfidence?.[l.sku] === undefined
                    ? "-"
                    : d.lineConfidence[l.sku]!.toFixed(2)}
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
        </table>
        {canReview
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
          : s.state === "review"
          ? <p style="color:#888">Your role ({actor.role}) can watch but not review.</p>
          : null}
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

  // Both pages change when a payment event is published in the region (coalesced to 2/s).
  const onPayments = (dirty: () => void, sessionId?: string) => {
    const sub = deps.nc.subscribe(
      filters.payments(deps.region, sessionId ? { sessionId } : {}),
      { callback: () => dirty() },
    );
    return () => sub.unsubscribe();
  };

  app.get("/live/sessions", (c) => {
    if (!actorOf(c)) return c.body(null, 401);
    return live(c, async () => {
      const [queue, recent] = await Promise.all([p.reviewQueue({ limit: 100 }), p.recent()]);
      return {
        queue: await (<Queue items={queue} />).toString(),
        recent: await (<Recent items={recent} />).toString(),
      };
    }, (dirty) => onPayments(dirty));
  });

  app.get(`/live/sessions/:id{${ID}}`, (c) => {
    if (!actorOf(c)) return c.body(null, 401);
    const id = c.req.param("id");
    return live(c, async () => {
      const d = await p.detail(id).catch(notFound);
      return d ? { session: await (<Summary d={d} />).toString() } : {};
    }, (dirty) => onPayments(dirty, id));
  });
}

/** No such session reads as undefined (a 404, an empty fragment); any other failure throws. */
function notFound(e: unknown): undefined {
  if (e instanceof PaymentNotFoundError) return undefined;
  throw e;
}

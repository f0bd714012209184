/**
 * The customer web app under `/app`: a mobile-first, installable page set (manifest, a service
 * worker for the shell) rendered on the server with hono/jsx, in Spanish or English as the
 * browser asks. Sign-in by one-time code (no passwords); cards added through the provider's
 * tokenisation (the sandbox's card form turns a test card into a token in the browser: the
 * number never reaches the service); at a machine (`/app/m/MACHINE`, what its QR code opens) the
 * products, prices and an Open button that starts the payment session; the session's page then
 * follows it live over Server-Sent Events (unlocked, door open, door closed, cart, receipt);
 * receipts with a dispute link per item.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Child, FC, PropsWithChildren } from "hono/jsx";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import { filters, parsePipelineEvent } from "../../protocol/mod.ts";
import {
  CodeDeliveryError,
  CodeThrottledError,
  type CustomerAuth,
  CustomerAuthError,
  InvalidCodeError,
} from "../auth/mod.ts";
import { cardNumberGuard, type FleetEnv, type PaymentDeps } from "../http/mod.ts";
import {
  type Customer,
  PaymentConflictError,
  PaymentNotFoundError,
  type PaymentService,
  PriceListNotFoundError,
  PriceMismatchError,
} from "../checkout/mod.ts";
import { isStreamNotFound } from "../nats/mod.ts";
import type { PaymentSession } from "../../payments/mod.ts";
import { live } from "./_dashboard_kit.tsx";
import { type Lang, TEXT, type Texts } from "./_customer_text.ts";

/** Name of the customer's session cookie. */
export const CUSTOMER_COOKIE = "vs_customer";

/** What the app needs. */
export interface CustomerAppDeps extends PaymentDeps {
  readonly customerAuth: CustomerAuth;
}

const STYLE =
  `*{box-sizing:border-box}body{font:16px system-ui,sans-serif;margin:0;color:#1b1b1b;background:#f6f7f9}header{background:#1d3557;color:#fff;padding:12px 16px;display:flex;align-items:center;gap:12px}
header a{color:#fff;text-decoration:none}main{padding:16px;max-width:520px;margin:auto}.card{background:#fff;border-radius:10px;padding:14px;margin-bottom:12px;box-shadow:0 1px 2px #0002}
input,select{font:inherit;width:100%;padding:10px;margin:6px 0;border:1px solid #bbb;border-radius:8px}button{font:inherit;width:100%;padding:12px;border:0;border-radius:8px;background:#2a9d8f;color:#fff;margin:6px 0}
button.secondary{background:#e9ecef;color:#1b1b1b}.error{color:#c1121f}.muted{color:#666;font-size:14px}table{width:100%;border-collapse:collapse}td{padding:6px 0;border-bottom:1px solid #eee}td.num{text-align:right}
.step{padding:6px 0;color:#999}.step.done{color:#1b1b1b}.step.done:before{content:"✓ ";color:#2a9d8f}.total{font-weight:600}`;

const SW = `const SHELL = "vend-app-shell-v1";
self.addEventListener("install", (e) => e.waitUntil(caches.open(SHELL).then((c) => c.addAll(["/app/offline", "/app/icon.svg", "/app/manifest.webmanifest"]))));
self.addEventListener("activate", (e) => e.waitUntil(self.clients.claim()));
self.addEventListener("fetch", (e) => {
  if (e.request.mode !== "navigate") return;
  // Offline (fetch rejects with a TypeError on a network failure): the shell's offline page.
  e.respondWith(fetch(e.request).catch((err) => err instanceof TypeError ? caches.match("/app/offline") : Promise.reject(err)));
});`;

const ICON =
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="12" fill="#1d3557"/><rect x="16" y="10" width="32" height="44" rx="4" fill="#fff"/><rect x="20" y="16" width="24" height="6" fill="#2a9d8f"/><rect x="20" y="26" width="24" height="6" fill="#2a9d8f"/><rect x="20" y="36" width="24" height="6" fill="#2a9d8f"/></svg>`;

/** The sandbox's card form: test card numbers become sandbox tokens in the browser. */
const SANDBOX_CARD_SCRIPT =
  `const TEST_CARDS = { "4242424242424242": "pm_sandbox_visa", "5555555555554444": "pm_sandbox_mastercard", "4000000000000002": "pm_sandbox_declined", "4000000000009995": "pm_sandbox_insufficient", "4000000000000069": "pm_sandbox_expired" };
function luhn(n) { let s = 0; for (let i = 0; i < n.length; i++) { let d = +n[n.length - 1 - i]; if (i % 2) { d *= 2; if (d > 9) d -= 9; } s += d; } return s % 10 === 0; }
document.getElementById("card-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const number = document.getElementById("card-number").value.replace(/[\\s-]/g, "");
  const out = document.getElementById("card-error");
  if (!/^\\d{13,19}$/.test(number) || !luhn(number)) { out.textContent = out.dataset.invalid; return; }
  const token = TEST_CARDS[number];
  if (!token) { out.textContent = out.dataset.unknown; return; }
  // Only the token leaves the page; the card number stays in the browser.
  document.getElementById("card-number").value = "";
  document.getElementById("card-token").value = token;
  document.getElementById("token-form").submit();
});`;

/**
 * Stripe's card Element and Payment Request button (Apple Pay, Google Pay): Stripe.js turns the
 * card or the wallet into a PaymentMethod in the browser; only its id is posted here.
 */
function stripeCardScript(key: string, hold: number, currency: string): string {
  return `const stripe = Stripe(${JSON.stringify(key)});
const elements = stripe.elements();
const card = elements.create("card");
card.mount("#card-element");
const out = document.getElementById("card-error");
const save = (id) => { document.getElementById("card-token").value = id; document.getElementById("token-form").submit(); };
document.getElementById("card-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const r = await stripe.createPaymentMethod({ type: "card", card });
  if (r.error) out.textContent = r.error.message; else save(r.paymentMethod.id);
});
const pr = stripe.paymentRequest({ country: "ES", currency: ${
    JSON.stringify(currency.toLowerCase())
  }, total: { label: "Vendstream", amount: ${hold}, pending: true } });
pr.canMakePayment().then((ok) => { if (ok) elements.create("paymentRequestButton", { paymentRequest: pr }).mount("#wallet-button"); });
pr.on("paymentmethod", (ev) => { ev.complete("success"); save(ev.paymentMethod.id); });`;
}

const LIVE_SCRIPT = `const es = new EventSource("/app/live" + location.pathname.slice(4));
es.onmessage = (e) => { const parts = JSON.parse(e.data); for (const [id, html] of Object.entries(parts)) { const el = document.getElementById(id); if (el) el.outerHTML = html; } };`;

function langOf(c: Context): Lang {
  const header = c.req.header("accept-language") ?? "";
  for (const part of header.split(",")) {
    const tag = part.trim().slice(0, 2).toLowerCase();
    if (tag === "es" || tag === "en") return tag;
  }
  return "en";
}

const Page: FC<PropsWithChildren<{ t: Texts; lang: Lang; title: string; signedIn?: boolean }>> = (
  { t, lang, title, signedIn, children },
) => (
  <html lang={lang}>
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width,initial-scale=1" />
      <meta name="theme-color" content="#1d3557" />
      <link rel="manifest" href="/app/manifest.webmanifest" />
      <link rel="icon" href="/app/icon.svg" />
      <title>{title} · Vendstream</title>
      <style dangerouslySetInnerHTML={{ __html: STYLE }} />
    </head>
    <body>
      <header>
        <a href="/app">
          <strong>Vendstream</strong>
        </a>
        {signedIn
          ? (
            <>
              <a href="/app/receipts" style="margin-left:auto">{t.receipts}</a>
            </>
          )
          : null}
      </header>
      <main>{children}</main>
      <script
        dangerouslySetInnerHTML={{
          __html:
            `if ("serviceWorker" in navigator) navigator.serviceWorker.register("/app/sw.js", { scope: "/app" }).catch((e) => console.warn("No offline page:", e));`,
        }}
      />
    </body>
  </html>
);

const money = (minor: number, currency: string, lang: Lang) =>
  new Intl.NumberFormat(lang === "es" ? "es-ES" : "en-GB", { style: "currency", currency })
    .format(minor / 100);

/** Where the customer is in a session, as the steps the page shows. */
function Steps(
  { s, t, lang, door }: {
    s: PaymentSession;
    t: Texts;
    lang: Lang;
    door: string | undefined;
  },
) {
  const unlocked = s.state !== "started" && s.state !== "held" && s.state !== "declined";
  const closed = s.cart !== null || s.state === "review" || s.state === "settled" ||
    door === "closed";
  const opened = closed || door === "open";
  return (
    <div id="status" class="card" data-state={s.state}>
      {s.state === "declined"
        ? <p class="error" data-message>{t.declined}</p>
        : s.state === "failed" && s.receiptTotal === null
        ? <p class="error" data-message>{t.failed}</p>
        : (
          <>
            <div class={`step${unlocked ? " done" : ""}`}>{t.stepUnlocked}</div>
            <div class={`step${opened ? " done" : ""}`}>{t.stepOpen}</div>
            <div class={`step${closed ? " done" : ""}`}>{t.stepClosed}</div>
            <div class={`step${s.state === "settled" ? " done" : ""}`}>{t.stepReceipt}</div>
            {s.state === "review" ? <p data-message>{t.review}</p> : null}
          </>
        )}
      {s.state === "settled" ? <Receipt s={s} t={t} lang={lang} /> : null}
    </div>
  );
}

function Receipt(
  { s, t, lang }: {
    s: PaymentSession;
    t: Texts;
    lang: Lang;
  },
) {
  return (
    <div id="receipt">
      <h2>{t.receipt}</h2>
      <table>
        <tbody>
          {(s.receiptLines ?? []).map((l) => (
            <tr key={l.sku} data-sku={l.sku}>
              <td>
                {l.qty} × {l.name}
              </td>
              <td class="num">{money(l.total, s.currency, lang)}</td>
            </tr>
          ))}
          <tr>
            <td class="total">{t.total}</td>
            <td class="num total" data-total>{money(s.receiptTotal ?? 0, s.currency, lang)}</td>
          </tr>
        </tbody>
      </table>
      {s.disputed
        ? <p class="muted" data-disputed>{t.disputed}</p>
        : (
          <form method="post" action={`/app/s/${s.sessionId}/dispute`}>
            <select name="sku" aria-label={t.disputeWhich}>
              {(s.receiptLines ?? []).map((l) => <option key={l.sku} value={l.sku}>{l.name}
              </option>)}
            </select>
            <button type="submit" class="secondary">{t.dispute}</button>
          </form>
        )}
    </div>
  );
}

/** Adds the customer app's routes to `app`. */
export function customerAppRoutes(app: OpenAPIHono<FleetEnv>, deps: CustomerAppDeps): void {
  const p: PaymentService = deps.payments;
  const auth = deps.customerAuth;

  app.use("/app/*", cardNumberGuard());
  // Changing requests come from the app's own pages: a cross-site form is refused.
  app.use("/app/*", async (c, next) => {
    if (c.req.method === "POST") {
      const origin = c.req.header("origin");
      if (origin && origin !== new URL(c.req.url).origin) {
        return c.text("Cross-site request refused", 403);
      }
    }
    await next();
    return undefined;
  });

  const signedIn = async (c: Context<FleetEnv>): Promise<Customer | undefined> => {
    const token = getCookie(c, CUSTOMER_COOKIE);
    if (!token) return undefined;
    return await auth.verify(token).catch((e) => {
      if (e instanceof CustomerAuthError) return undefined;
      throw e;
    });
  };
  const page = (
    c: Context<FleetEnv>,
    title: string,
    body: Child,
    status = 200,
    signed = false,
  ) => {
    const lang = langOf(c);
    return c.html(
      <Page t={TEXT[lang]} lang={lang} title={title} signedIn={signed}>{body}</Page>,
      status as 200,
    );
  };
  const signInForm = (c: Context<FleetEnv>, message?: string, next = "/app") => {
    const t = TEXT[langOf(c)];
    return page(
      c,
      t.signIn,
      <div class="card">
        <h1>{t.signIn}</h1>
        <p class="muted">{t.signInHelp}</p>
        {message ? <p class="error" data-message>{message}</p> : null}
        <form method="post" action="/app/signin">
          <input type="hidden" name="next" value={next} />
          <input
            name="contact"
            aria-label={t.contact}
            placeholder={t.contact}
            autocomplete="email"
          />
          <button type="submit">{t.sendCode}</button>
        </form>
      </div>,
      message ? 400 : 200,
    );
  };
  const codeForm = (c: Context<FleetEnv>, contact: string, next: string, message?: string) => {
    const t = TEXT[langOf(c)];
    return page(
      c,
      t.enterCode,
      <div class="card">
        <h1>{t.enterCode}</h1>
        <p class="muted">{t.codeSent} {contact}</p>
        {message ? <p class="error" data-message>{message}</p> : null}
        <form method="post" action="/app/verify">
          <input type="hidden" name="contact" value={contact} />
          <input type="hidden" name="next" value={next} />
          <input
            name="code"
            aria-label={t.code}
            inputmode="numeric"
            autocomplete="one-time-code"
            maxlength={6}
          />
          <button type="submit">{t.signInButton}</button>
        </form>
      </div>,
      message ? 400 : 200,
    );
  };
  const safeNext = (v: unknown) =>
    typeof v === "string" && /^\/app(\/[A-Za-z0-9/_-]*)?$/.test(v) ? v : "/app";

  app.get("/app/manifest.webmanifest", (c) =>
    c.json(
      {
        name: "Vendstream",
        short_name: "Vendstream",
        start_url: "/app",
        scope: "/app",
        display: "standalone",
        background_color: "#f6f7f9",
        theme_color: "#1d3557",
        icons: [{ src: "/app/icon.svg", sizes: "any", type: "image/svg+xml" }],
      },
      200,
      { "content-type": "application/manifest+json" },
    ));
  app.get("/app/icon.svg", (c) => c.body(ICON, 200, { "content-type": "image/svg+xml" }));
  app.get(
    "/app/sw.js",
    (c) => c.body(SW, 200, { "content-type": "text/javascript", "service-worker-allowed": "/app" }),
  );
  app.get("/app/offline", (c) => {
    const t = TEXT[langOf(c)];
    return page(
      c,
      t.offline,
      <div class="card">
        <p>{t.offline}</p>
      </div>,
    );
  });

  app.get("/app", async (c) => {
    const customer = await signedIn(c);
    if (!customer) return signInForm(c);
    const t = TEXT[langOf(c)];
    const def = customer.defaultPaymentMethodId ?? customer.paymentMethods.at(-1)?.paymentMethodId;
    return page(
      c,
      t.account,
      <>
        <div class="card">
          <h1>{t.hello}</h1>
          <p class="muted" data-contact>{customer.email ?? customer.phone}</p>
        </div>
        <div class="card" id="cards">
          <h2>{t.cards}</h2>
          {customer.paymentMethods.length === 0 ? <p class="muted">{t.noCards}</p> : null}
          {customer.paymentMethods.map((m) => (
            <div key={m.paymentMethodId} data-card={m.paymentMethodId}>
              <p>
                {m.token.replace(/^pm_(sandbox_)?/, "").replaceAll("_", " ")}
                {m.paymentMethodId === def ? ` · ${t.default}` : ""}
              </p>
              {m.paymentMethodId === def
                ? null
                : (
                  <form method="post" action={`/app/cards/${m.paymentMethodId}/default`}>
                    <button type="submit" class="secondary">{t.makeDefault}</button>
                  </form>
                )}
              <form method="post" action={`/app/cards/${m.paymentMethodId}/remove`}>
                <button type="submit" class="secondary">{t.remove}</button>
              </form>
            </div>
          ))}
          <a href="/app/cards/new">{t.addCard}</a>
        </div>
        <form method="post" action="/app/signout">
          <button type="submit" class="secondary">{t.signOutEverywhere}</button>
        </form>
      </>,
      200,
      true,
    );
  });

  app.post("/app/signin", async (c) => {
    const form = await c.req.parseBody();
    const contact = typeof form.contact === "string" ? form.contact : "";
    const next = safeNext(form.next);
    const t = TEXT[langOf(c)];
    try {
      await auth.requestCode(contact, { language: langOf(c) });
    } catch (e) {
      if (e instanceof TypeError) return signInForm(c, t.badContact, next);
      if (e instanceof CodeDeliveryError) return signInForm(c, t.cannotSend, next);
      if (e instanceof CodeThrottledError) {
        return codeForm(c, contact.trim(), next, `${t.wait} ${Math.ceil(e.retryAfterMs / 1000)} s`);
      }
      throw e;
    }
    return codeForm(c, contact.trim(), next);
  });

  app.post("/app/verify", async (c) => {
    const form = await c.req.parseBody();
    const contact = typeof form.contact === "string" ? form.contact : "";
    const code = typeof form.code === "string" ? form.code.trim() : "";
    const next = safeNext(form.next);
    const t = TEXT[langOf(c)];
    try {
      const { token } = await auth.verifyCode(contact, code);
      setCookie(c, CUSTOMER_COOKIE, token, {
        httpOnly: true,
        sameSite: "Lax",
        path: "/app",
        secure: new URL(c.req.url).protocol === "https:",
        maxAge: 30 * 86_400,
      });
      return c.redirect(next, 303);
    } catch (e) {
      if (e instanceof InvalidCodeError) {
        return codeForm(c, contact, next, `${t.wrongCode} (${e.attemptsLeft} ${t.triesLeft})`);
      }
      if (e instanceof CodeThrottledError) {
        return codeForm(c, contact, next, `${t.tooMany} ${Math.ceil(e.retryAfterMs / 60_000)} min`);
      }
      if (e instanceof TypeError) return signInForm(c, t.badContact, next);
      throw e;
    }
  });

  app.post("/app/signout", async (c) => {
    const customer = await signedIn(c);
    if (customer) await auth.signOutEverywhere(customer.customerId);
    deleteCookie(c, CUSTOMER_COOKIE, { path: "/app" });
    return c.redirect("/app", 303);
  });

  app.get("/app/cards/new", async (c) => {
    const customer = await signedIn(c);
    if (!customer) return signInForm(c, undefined, "/app/cards/new");
    const t = TEXT[langOf(c)];
    const key = deps.stripePublishableKey;
    if (p.providerName === "stripe" && key) {
      // A card is not for one machine: the wallet shows the hold in the default list's currency.
      const { currency } = await p.standardPrices();
      return page(
        c,
        t.addCard,
        <div class="card">
          <h1>{t.addCard}</h1>
          <div id="wallet-button"></div>
          <form id="card-form">
            <div id="card-element" class="card"></div>
            <p id="card-error" class="error"></p>
            <button type="submit">{t.saveCard}</button>
          </form>
          <form id="token-form" method="post" action="/app/cards">
            <input type="hidden" id="card-token" name="token" />
          </form>
          <script src="https://js.stripe.com/v3/" />
          <script
            dangerouslySetInnerHTML={{
              __html: stripeCardScript(key, p.holdAmount, currency),
            }}
          />
        </div>,
        200,
        true,
      );
    }
    return page(
      c,
      t.addCard,
      <div class="card">
        <h1>{t.addCard}</h1>
        <p class="muted">{t.sandboxCards}</p>
        <form id="card-form">
          <input
            id="card-number"
            aria-label={t.cardNumber}
            inputmode="numeric"
            autocomplete="cc-number"
            placeholder="4242 4242 4242 4242"
          />
          <input aria-label={t.expiry} placeholder="MM/YY" autocomplete="cc-exp" />
          <input aria-label="CVC" placeholder="CVC" autocomplete="cc-csc" />
          <p
            id="card-error"
            class="error"
            data-invalid={t.cardInvalid}
            data-unknown={t.cardUnknown}
          >
          </p>
          <button type="submit">{t.saveCard}</button>
        </form>
        <form id="token-form" method="post" action="/app/cards">
          <input type="hidden" id="card-token" name="token" />
        </form>
        <script dangerouslySetInnerHTML={{ __html: SANDBOX_CARD_SCRIPT }} />
      </div>,
      200,
      true,
    );
  });

  app.post("/app/cards", async (c) => {
    const customer = await signedIn(c);
    if (!customer) return signInForm(c);
    const form = await c.req.parseBody();
    const token = typeof form.token === "string" ? form.token : "";
    try {
      await p.addPaymentMethod(customer.customerId, { token });
    } catch (e) {
      if (e instanceof TypeError) return c.redirect("/app/cards/new", 303);
      throw e;
    }
    return c.redirect("/app", 303);
  });

  app.post("/app/cards/:id{pmt-[A-Za-z0-9-]{8,64}}/:action{remove|default}", async (c) => {
    const customer = await signedIn(c);
    if (!customer) return signInForm(c);
    const id = c.req.param("id");
    const change = c.req.param("action") === "remove"
      ? p.removePaymentMethod(customer.customerId, id)
      : p.setDefaultPaymentMethod(customer.customerId, id);
    await change.catch((e) => {
      // Not the customer's card: nothing changes. Anything else propagates.
      if (!(e instanceof PaymentNotFoundError)) throw e;
    });
    return c.redirect("/app", 303);
  });

  const machinePage = async (c: Context<FleetEnv>, machineId: string, message?: string) => {
    const customer = await signedIn(c);
    if (!customer) return signInForm(c, undefined, `/app/m/${machineId}`);
    const lang = langOf(c);
    const t = TEXT[lang];
    const nonce = crypto.randomUUID();
    const prices = await p.pricesFor(machineId).catch((e) => {
      if (!(e instanceof PriceListNotFoundError)) throw e;
      return undefined;
    });
    if (!prices) {
      // No price list for it (a list assigned but gone): nothing can be sold here now.
      return page(
        c,
        machineId,
        <div class="card">
          <h1>{t.machine} {machineId}</h1>
          <p class="error" data-message>{t.notSelling}</p>
        </div>,
        503,
        true,
      );
    }
    return page(
      c,
      machineId,
      <>
        <div class="card">
          <h1>{t.machine} {machineId}</h1>
          {message ? <p class="error" data-message>{message}</p> : null}
          <table>
            <tbody>
              {[...prices.items].map(([sku, item]) => (
                <tr key={sku}>
                  <td>{item.name}</td>
                  <td class="num">{money(item.unitPrice, prices.currency, lang)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="muted">{t.holdNote} {money(p.holdAmount, prices.currency, lang)}</p>
        </div>
        {customer.paymentMethods.length === 0
          ? (
            <div class="card">
              <p class="error" data-message>{t.needCard}</p>
              <a href="/app/cards/new">{t.addCard}</a>
            </div>
          )
          : (
            <form method="post" action={`/app/m/${machineId}/open`} id="open-form">
              <input type="hidden" name="nonce" value={nonce} />
              <input type="hidden" name="prices" value={prices.version} />
              <button type="submit" id="open">{t.open}</button>
            </form>
          )}
      </>,
      message ? 409 : 200,
      true,
    );
  };

  app.get(
    "/app/m/:machine{[a-z0-9][a-z0-9-]{0,62}}",
    (c) => machinePage(c, c.req.param("machine")),
  );

  app.post("/app/m/:machine{[a-z0-9][a-z0-9-]{0,62}}/open", async (c) => {
    const customer = await signedIn(c);
    const machineId = c.req.param("machine");
    if (!customer) return signInForm(c, undefined, `/app/m/${machineId}`);
    const t = TEXT[langOf(c)];
    const form = await c.req.parseBody();
    const nonce = typeof form.nonce === "string" && /^[0-9a-f-]{36}$/.test(form.nonce)
      ? form.nonce
      : undefined;
    if (!nonce) return machinePage(c, machineId, t.tryAgain);
    // One session per press of Open: a second press (or a resent form) finds the first.
    const claim = await auth.claimOpen(customer.customerId, nonce);
    if (claim.sessionId) return c.redirect(`/app/s/${claim.sessionId}`, 303);
    if (!claim.mine) return machinePage(c, machineId, t.tryAgain);
    const devices = [...deps.state.statuses.entries()]
      .filter(([, e]) => e.value.machineId === machineId);
    if (!devices.some(([, e]) => e.value.status === "online")) {
      await auth.releaseOpen(customer.customerId, nonce);
      return machinePage(c, machineId, t.machineOffline);
    }
    if (devices.some(([, e]) => e.value.door === "open")) {
      await auth.releaseOpen(customer.customerId, nonce);
      return machinePage(c, machineId, t.machineBusy);
    }
    // At the prices the page showed: changed since, the page shows the new ones first.
    const shown = typeof form.prices === "string" ? form.prices.slice(0, 200) : undefined;
    let changed = false;
    const s = await p.start({
      customerId: customer.customerId,
      machineId,
      ...(shown ? { prices: shown } : {}),
    }).catch((e) => {
      changed = e instanceof PriceMismatchError;
      // Other prices than shown is the customer's to see; any other failure is logged too.
      if (!changed) {
        deps.logger?.log("warn", "a customer's session did not start", {
          customerId: customer.customerId,
          machineId,
          error: String(e),
        });
      }
      return undefined;
    });
    if (!s) {
      await auth.releaseOpen(customer.customerId, nonce);
      return machinePage(c, machineId, changed ? t.pricesChanged : t.failed);
    }
    await auth.recordOpen(customer.customerId, nonce, s.sessionId);
    return c.redirect(`/app/s/${s.sessionId}`, 303);
  });

  const ownSession = async (c: Context<FleetEnv>) => {
    const customer = await signedIn(c);
    if (!customer) return undefined;
    const s = await p.get(c.req.param("session") ?? "").catch((e) => {
      // No such session is not the customer's; a read that fails propagates.
      if (e instanceof PaymentNotFoundError) return undefined;
      throw e;
    });
    return s && s.customerId === customer.customerId ? s : undefined;
  };
  /**
   * The door in this session: from the latest door events of the machine's devices in the
   * EVENTS stream (the last of each type per device), when they carry this session's id.
   */
  const doorOf = async (machineId: string, sessionId: string): Promise<string | undefined> => {
    const devices = [...deps.state.statuses.entries()]
      .filter(([, e]) => e.value.machineId === machineId)
      .map(([id, e]) => ({ id, region: e.value.region }));
    let door: string | undefined;
    for (const d of devices) {
      try {
        const consumer = await jetstream(deps.nc).consumers.get(
          `EVENTS_${d.region.toUpperCase()}`,
          {
            filter_subjects: filters.pipelineEvents({ region: d.region, deviceId: d.id }),
            deliver_policy: DeliverPolicy.LastPerSubject,
          },
        );
        if ((await consumer.info()).num_pending === 0) continue;
        for await (const m of await consumer.fetch({ max_messages: 50, expires: 1000 })) {
          const e = parsePipelineEvent(m.data);
          if (e.ok && "sessionId" in e.value && e.value.sessionId === sessionId) {
            if (e.value.type === "door_closed") door = "closed";
            else if (e.value.type === "door_opened" && door !== "closed") door = "open";
          }
          if (m.info.pending === 0) break;
        }
      } catch (e) {
        // No stream yet: the door is not known. Any other failure is said; the page shows the rest.
        if (!isStreamNotFound(e)) {
          deps.logger?.log("warn", "the door state could not be read", {
            deviceId: d.id,
            sessionId,
            error: String(e),
          });
        }
      }
    }
    return door;
  };

  app.get("/app/s/:session{pay-[A-Za-z0-9-]{8,60}}", async (c) => {
    const s = await ownSession(c);
    const lang = langOf(c);
    const t = TEXT[lang];
    if (!s) return signInForm(c, undefined, `/app/s/${c.req.param("session")}`);
    return page(
      c,
      t.session,
      <>
        <h1>{t.machine} {s.machineId}</h1>
        <Steps
          s={s}
          t={t}
          lang={lang}
          door={await doorOf(s.machineId, s.sessionId)}
        />
        <script dangerouslySetInnerHTML={{ __html: LIVE_SCRIPT }} />
      </>,
      200,
      true,
    );
  });

  app.get("/app/live/s/:session{pay-[A-Za-z0-9-]{8,60}}", async (c) => {
    const s0 = await ownSession(c);
    if (!s0) return c.body(null, 401);
    const lang = langOf(c);
    const t = TEXT[lang];
    const id = s0.sessionId;
    let door = await doorOf(s0.machineId, id);
    return live(
      c,
      async () => ({
        status: await (
          <Steps s={await p.get(id)} t={t} lang={lang} door={door} />
        ).toString(),
      }),
      (dirty) => {
        const pay = deps.nc.subscribe(filters.payments(deps.region, { sessionId: id }), {
          callback: () => dirty(),
        });
        // The door's events of this session, from whichever of the machine's devices sends them.
        const events = deps.nc.subscribe(filters.pipelineEvents({ region: deps.region }), {
          callback: (_e, m) => {
            const e = parsePipelineEvent(m.data);
            if (!e.ok || !("sessionId" in e.value) || e.value.sessionId !== id) return;
            if (e.value.type === "door_opened" && door !== "closed") door = "open";
            if (e.value.type === "door_closed") door = "closed";
            dirty();
          },
        });
        return () => {
          pay.unsubscribe();
          events.unsubscribe();
        };
      },
      { renderAtOnce: true },
    );
  });

  app.post("/app/s/:session{pay-[A-Za-z0-9-]{8,60}}/dispute", async (c) => {
    const s = await ownSession(c);
    if (!s) return signInForm(c);
    const form = await c.req.parseBody();
    const sku = typeof form.sku === "string" ? form.sku : "";
    if (s.state === "settled" && (s.receiptLines ?? []).some((l) => l.sku === sku)) {
      await p.dispute(s.sessionId, { reason: `the customer disputes ${sku}` }).catch((e) => {
        // No longer settled (changed meanwhile): nothing to dispute. Anything else propagates.
        if (!(e instanceof PaymentConflictError)) throw e;
      });
    }
    return c.redirect(`/app/s/${s.sessionId}`, 303);
  });

  app.get("/app/receipts", async (c) => {
    const customer = await signedIn(c);
    if (!customer) return signInForm(c, undefined, "/app/receipts");
    const lang = langOf(c);
    const t = TEXT[lang];
    const sessions = await p.sessionsOf(customer.customerId, { limit: 50 });
    return page(
      c,
      t.receipts,
      <div class="card">
        <h1>{t.receipts}</h1>
        {sessions.length === 0 ? <p class="muted">{t.noReceipts}</p> : null}
        <table>
          <tbody>
            {sessions.map((s) => (
              <tr key={s.sessionId} data-session={s.sessionId}>
                <td>
                  <a href={`/app/s/${s.sessionId}`}>
                    {new Date(s.startedAt).toLocaleString(lang === "es" ? "es-ES" : "en-GB")} ·{" "}
                    {s.machineId}
                  </a>
                </td>
                <td class="num">
                  {s.receiptTotal === null
                    ? t.states[s.state] ?? s.state
                    : money(s.receiptTotal, s.currency, lang)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>,
      200,
      true,
    );
  });
}

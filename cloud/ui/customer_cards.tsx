/**
 * The customer's cards (`/app/cards`): the form that adds one through the provider's tokenisation
 * (the sandbox's test cards become tokens in the browser; with Stripe, its card Element and
 * Payment Request button), saving the token, and making a card the default or removing it.
 *
 * @module
 */
import { Hono } from "hono";
import type { FleetEnv } from "../http/mod.ts";
import { PaymentNotFoundError } from "../checkout/mod.ts";
import {
  type CustomerAppDeps,
  langOf,
  page,
  signedInCustomer,
  signInForm,
} from "./_customer_kit.tsx";
import { TEXT } from "./_customer_text.ts";

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

/** The cards' routes, relative to `/app/cards`: the add form, saving a token, default, remove. */
export function customerCards(deps: CustomerAppDeps): Hono<FleetEnv> {
  const p = deps.payments;
  const app = new Hono<FleetEnv>();

  app.get("/new", async (c) => {
    const customer = await signedInCustomer(c, deps.customerAuth);
    if (!customer) return signInForm(c, { next: "/app/cards/new" });
    const t = TEXT[langOf(c)];
    const key = deps.stripePublishableKey;
    if (p.providerName === "stripe" && key) {
      // A card is not for one machine: the wallet shows the hold in the default list's currency.
      const { currency } = await p.standardPrices();
      return page(
        c,
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
        { title: t.addCard, signedIn: true },
      );
    }
    return page(
      c,
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
      { title: t.addCard, signedIn: true },
    );
  });

  app.post("/", async (c) => {
    const customer = await signedInCustomer(c, deps.customerAuth);
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

  app.post("/:id{pmt-[A-Za-z0-9-]{8,64}}/:action{remove|default}", async (c) => {
    const customer = await signedInCustomer(c, deps.customerAuth);
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
  return app;
}

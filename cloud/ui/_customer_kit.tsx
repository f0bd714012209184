/**
 * What the customer app's pages share: the page frame, the language and money formats, the
 * signed-in customer, and the sign-in form every page falls back to. Imported only by the
 * customer app's files.
 *
 * @module
 */
import type { Context } from "hono";
import { getCookie } from "hono/cookie";
import type { Child, FC, PropsWithChildren } from "hono/jsx";
import { type CustomerAuth, CustomerAuthError } from "../auth/mod.ts";
import type { FleetEnv, PaymentDeps } from "../http/mod.ts";
import type { Customer } from "../checkout/mod.ts";
import { type Lang, TEXT, type Texts } from "./_customer_text.ts";

/** Name of the customer's session cookie. */
export const CUSTOMER_COOKIE = "vs_customer";

/** What the app needs. */
export interface CustomerAppDeps extends PaymentDeps {
  /** Customers' sign-in. */
  readonly customerAuth: CustomerAuth;
  /** Stripe's publishable key: the app adds cards with Stripe Elements. */
  readonly stripePublishableKey?: string;
}

const STYLE =
  `*{box-sizing:border-box}body{font:16px system-ui,sans-serif;margin:0;color:#1b1b1b;background:#f6f7f9}header{background:#1d3557;color:#fff;padding:12px 16px;display:flex;align-items:center;gap:12px}
header a{color:#fff;text-decoration:none}main{padding:16px;max-width:520px;margin:auto}.card{background:#fff;border-radius:10px;padding:14px;margin-bottom:12px;box-shadow:0 1px 2px #0002}
input,select{font:inherit;width:100%;padding:10px;margin:6px 0;border:1px solid #bbb;border-radius:8px}button{font:inherit;width:100%;padding:12px;border:0;border-radius:8px;background:#2a9d8f;color:#fff;margin:6px 0}
button.secondary{background:#e9ecef;color:#1b1b1b}.error{color:#c1121f}.muted{color:#666;font-size:14px}table{width:100%;border-collapse:collapse}td{padding:6px 0;border-bottom:1px solid #eee}td.num{text-align:right}
.step{padding:6px 0;color:#999}.step.done{color:#1b1b1b}.step.done:before{content:"✓ ";color:#2a9d8f}.total{font-weight:600}`;

/** The language the browser asks for (`Accept-Language`), English when neither. */
export function langOf(c: Context): Lang {
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

/** An amount in minor units, formatted for the page's language. */
export const money = (minor: number, currency: string, lang: Lang): string =>
  new Intl.NumberFormat(lang === "es" ? "es-ES" : "en-GB", { style: "currency", currency })
    .format(minor / 100);

/** How a page is answered: its title, status (200) and whether the header shows the receipts. */
export interface PageOptions {
  readonly title: string;
  readonly status?: number;
  readonly signedIn?: boolean;
}

/** `body` in the app's frame, in the browser's language. */
export function page(
  c: Context<FleetEnv>,
  body: Child,
  { title, status = 200, signedIn = false }: PageOptions,
): Response | Promise<Response> {
  const lang = langOf(c);
  return c.html(
    <Page t={TEXT[lang]} lang={lang} title={title} signedIn={signedIn}>{body}</Page>,
    status as 200,
  );
}

/** The customer whose session cookie this request carries, if it is still valid. */
export async function signedInCustomer(
  c: Context<FleetEnv>,
  auth: CustomerAuth,
): Promise<Customer | undefined> {
  const token = getCookie(c, CUSTOMER_COOKIE);
  if (!token) return undefined;
  return await auth.verify(token).catch((e) => {
    if (e instanceof CustomerAuthError) return undefined;
    throw e;
  });
}

/**
 * The sign-in form (400 with `message`, else 200); after signing in the customer goes to `next`
 * (default `/app`).
 */
export function signInForm(
  c: Context<FleetEnv>,
  { message, next = "/app" }: { readonly message?: string | undefined; readonly next?: string } =
    {},
): Response | Promise<Response> {
  const t = TEXT[langOf(c)];
  return page(
    c,
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
    { title: t.signIn, status: message ? 400 : 200 },
  );
}

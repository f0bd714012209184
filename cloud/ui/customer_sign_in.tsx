/**
 * Signing in to the customer app by one-time code (no passwords): the contact asks for a code,
 * the code sets the session cookie (30 days, path `/app`) and sends the customer on to the page
 * they came for; signing out ends every session of the customer.
 *
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import { CodeDeliveryError, CodeThrottledError, InvalidCodeError } from "../auth/mod.ts";
import type { FleetEnv } from "../http/mod.ts";
import {
  CUSTOMER_COOKIE,
  type CustomerAppDeps,
  langOf,
  page,
  signedInCustomer,
  signInForm,
} from "./_customer_kit.tsx";
import { TEXT } from "./_customer_text.ts";

/** The form for the code sent to `contact` (400 with `message`, else 200). */
function codeForm(
  c: Context<FleetEnv>,
  contact: string,
  { next, message }: { readonly next: string; readonly message?: string },
) {
  const t = TEXT[langOf(c)];
  return page(
    c,
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
    { title: t.enterCode, status: message ? 400 : 200 },
  );
}

/** Where to go after signing in: a page of the app, else the account page. */
const safeNext = (v: unknown) =>
  typeof v === "string" && /^\/app(\/[A-Za-z0-9/_-]*)?$/.test(v) ? v : "/app";

/** The sign-in routes, relative to `/app`: ask for a code, sign in with it, sign out. */
export function customerSignIn(deps: CustomerAppDeps): Hono<FleetEnv> {
  const auth = deps.customerAuth;
  const app = new Hono<FleetEnv>();

  app.post("/signin", async (c) => {
    const form = await c.req.parseBody();
    const contact = typeof form.contact === "string" ? form.contact : "";
    const next = safeNext(form.next);
    const t = TEXT[langOf(c)];
    try {
      await auth.requestCode(contact, { language: langOf(c) });
    } catch (e) {
      if (e instanceof TypeError) return signInForm(c, { message: t.badContact, next });
      if (e instanceof CodeDeliveryError) return signInForm(c, { message: t.cannotSend, next });
      if (e instanceof CodeThrottledError) {
        return codeForm(c, contact.trim(), {
          next,
          message: `${t.wait} ${Math.ceil(e.retryAfterMs / 1000)} s`,
        });
      }
      throw e;
    }
    return codeForm(c, contact.trim(), { next });
  });

  app.post("/verify", async (c) => {
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
        return codeForm(c, contact, {
          next,
          message: `${t.wrongCode} (${e.attemptsLeft} ${t.triesLeft})`,
        });
      }
      if (e instanceof CodeThrottledError) {
        return codeForm(c, contact, {
          next,
          message: `${t.tooMany} ${Math.ceil(e.retryAfterMs / 60_000)} min`,
        });
      }
      if (e instanceof TypeError) return signInForm(c, { message: t.badContact, next });
      throw e;
    }
  });

  app.post("/signout", async (c) => {
    const customer = await signedInCustomer(c, auth);
    if (customer) await auth.signOutEverywhere(customer.customerId);
    deleteCookie(c, CUSTOMER_COOKIE, { path: "/app" });
    return c.redirect("/app", 303);
  });
  return app;
}

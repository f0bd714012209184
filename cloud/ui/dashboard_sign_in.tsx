/**
 * Signing in to the dashboard (`/login`): by a one-time login link (`?code=`, what the demo
 * prints) or by pasting an operator token; either sets the session cookie (httpOnly, Strict).
 *
 * @module
 */
import { Hono } from "hono";
import { setCookie } from "hono/cookie";
import { AuthError, redeemLoginCode } from "../auth/mod.ts";
import type { FleetDeps, FleetEnv } from "../http/mod.ts";
import { LoginPage, SESSION_COOKIE } from "./_dashboard_kit.tsx";

/** The sign-in page and form (`/login`). */
export function dashboardSignIn(deps: FleetDeps): Hono<FleetEnv> {
  const app = new Hono<FleetEnv>();
  app.get("/login", async (c) => {
    const code = c.req.query("code");
    if (code) {
      const token = await redeemLoginCode(deps.state.service, code);
      if (!token) {
        return c.html(
          <LoginPage message="This login link is not valid (used, expired or unknown)" />,
          401,
        );
      }
      setCookie(c, SESSION_COOKIE, token, { httpOnly: true, sameSite: "Strict", path: "/" });
      return c.redirect("/", 303);
    }
    return c.html(<LoginPage />);
  });
  app.post("/login", async (c) => {
    const form = await c.req.parseBody();
    const token = typeof form.token === "string" ? form.token.trim() : "";
    try {
      await deps.tokens.verify(token);
    } catch (e) {
      // A forged, expired or foreign token; anything else is the server's failure.
      if (!(e instanceof AuthError)) throw e;
      return c.html(<LoginPage message="That token is not valid" />, 401);
    }
    setCookie(c, SESSION_COOKIE, token, { httpOnly: true, sameSite: "Strict", path: "/" });
    return c.redirect("/", 303);
  });
  return app;
}

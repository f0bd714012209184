/**
 * What the dashboard's pages share: the layout and sign-in page, the session check, and the live
 * fragment streams (Server-Sent Events, coalesced). Imported only by the dashboard's files.
 *
 * @module
 */
import type { Context } from "hono";
import { getCookie } from "hono/cookie";
import type { FC, PropsWithChildren } from "hono/jsx";
import { streamSSE } from "hono/streaming";
import type { Actor } from "../auth/mod.ts";
import type { FleetEnv } from "../http/mod.ts";

/** Name of the dashboard's session cookie (the operator's token, httpOnly). */
export const SESSION_COOKIE = "vs_session";
/** Rows per page of a table. */
export const PAGE_SIZE = 50;
/** A page's live updates are sent at most this often, ms. */
export const COALESCE_MS = 500;

/** Open SSE streams, for /metrics and the leak test. */
export const liveClients = { count: 0 };

const STYLE =
  `body{font:14px system-ui,sans-serif;margin:0;color:#222}header{background:#1d3557;color:#fff;padding:10px 16px;display:flex;gap:16px;align-items:center}
header a{color:#fff}main{padding:16px}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left}
.counts{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:12px}tr.stale td{color:#b45309}.card{background:#f1f4f8;border-radius:6px;padding:8px 12px}.card b{font-size:20px;display:block}
.online{color:#2a9d8f}.offline{color:#e63946}.unknown{color:#888}.alerts li{color:#b5651d}button{margin-right:6px}svg{background:#fafafa;border:1px solid #eee}
.review{color:#b5651d}.settled{color:#2a9d8f}.failed,.declined{color:#e63946}video{background:#000}input[type=number]{width:4em}`;

type LayoutProps = PropsWithChildren<{ title: string; user?: string | undefined }>;

/** The page frame: header with the sections and the signed-in operator. */
export const Layout: FC<LayoutProps> = (
  { title, user, children }: LayoutProps,
): ReturnType<FC> => (
  <html>
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width,initial-scale=1" />
      <title>{title} · Vendstream</title>
      <style>{STYLE}</style>
    </head>
    <body>
      <header>
        <strong>Vendstream</strong>
        <a href="/">Fleet</a>
        <a href="/deployments">Deployments</a>
        <a href="/sessions">Sessions</a>
        <a href="/accuracy">Accuracy</a>
        <span style="margin-left:auto">{user ?? ""}</span>
      </header>
      <main>{children}</main>
    </body>
  </html>
);

/** The sign-in page (a token), with why the operator is there. */
export const LoginPage: FC<{ message?: string | undefined }> = (
  { message }: { message?: string | undefined },
): ReturnType<FC> => (
  <Layout title="Sign in">
    <h1>Sign in</h1>
    {message ? <p class="offline" id="login-error">{message}</p> : null}
    <form method="post" action="/login">
      <label>
        Operator token <input name="token" type="password" size={60} />
      </label>
      <button type="submit">Sign in</button>
    </form>
  </Layout>
);

/** Client script: swaps the fragments the server pushes into the page. */
export const LIVE_SCRIPT =
  `const es = new EventSource(location.pathname.replace(/^\\/?/, "/live/") + location.search);
es.onmessage = (e) => { const parts = JSON.parse(e.data); for (const [id, html] of Object.entries(parts)) { const el = document.getElementById(id); if (el) el.outerHTML = html; } };`;

/** The signed-in operator, if any. */
export function actorOf(c: Context<FleetEnv>): Actor | undefined {
  return c.get("actor");
}

/** `"ana (operator)"`, for the header. */
export function userLabel(c: Context<FleetEnv>): string {
  const a = actorOf(c);
  return a ? `${a.subject} (${a.role})` : "";
}

/** The sign-in page (401) when nobody valid is signed in; undefined when someone is. */
export function requireSession(c: Context<FleetEnv>): Response | Promise<Response> | undefined {
  if (actorOf(c)) return undefined;
  return c.html(
    <LoginPage
      message={getCookie(c, SESSION_COOKIE)
        ? "Your session is not valid any more: sign in again"
        : undefined}
    />,
    401,
  );
}

/**
 * A live stream of a page's fragments (element id -> HTML), rendered again when `subscribe`
 * says what they show changed, at most every {@link COALESCE_MS}; a client that went away is
 * noticed at the next write and its subscription removed. `renderAtOnce` also sends the
 * fragments as soon as the client connects (what changed between the page and its stream).
 */
export function live(
  c: Context<FleetEnv>,
  render: () => Promise<Record<string, string>> | Record<string, string>,
  subscribe: (dirty: () => void) => () => void,
  options: { readonly renderAtOnce?: boolean } = {},
): Response {
  return streamSSE(c, async (stream) => {
    liveClients.count++;
    let dirty = options.renderAtOnce ?? false;
    let closed = false;
    const unsubscribe = subscribe(() => (dirty = true));
    stream.onAbort(() => {
      closed = true;
    });
    try {
      while (!closed && !stream.aborted && !stream.closed) {
        if (dirty) {
          dirty = false;
          await stream.writeSSE({ data: JSON.stringify(await render()) });
        } else {
          await stream.write(": idle\n\n"); // a departed client shows up as a failed write
        }
        await stream.sleep(COALESCE_MS);
      }
    } finally {
      unsubscribe();
      liveClients.count--;
    }
  });
}

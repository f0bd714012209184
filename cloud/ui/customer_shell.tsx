/**
 * The customer app's installable shell: the web manifest, the icon, the service worker (which
 * keeps the shell and serves its offline page when the network is gone) and that offline page.
 *
 * @module
 */
import { Hono } from "hono";
import type { FleetEnv } from "../http/mod.ts";
import { langOf, page } from "./_customer_kit.tsx";
import { TEXT } from "./_customer_text.ts";

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

/** The shell's routes, relative to `/app`: manifest, icon, service worker, offline page. */
export function customerShell(): Hono<FleetEnv> {
  const app = new Hono<FleetEnv>();
  app.get("/manifest.webmanifest", (c) =>
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
  app.get("/icon.svg", (c) => c.body(ICON, 200, { "content-type": "image/svg+xml" }));
  app.get(
    "/sw.js",
    (c) => c.body(SW, 200, { "content-type": "text/javascript", "service-worker-allowed": "/app" }),
  );
  app.get("/offline", (c) => {
    const t = TEXT[langOf(c)];
    return page(
      c,
      <div class="card">
        <p>{t.offline}</p>
      </div>,
      { title: t.offline },
    );
  });
  return app;
}

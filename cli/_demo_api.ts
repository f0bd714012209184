/**
 * The demo's calls to the API, as its admin (over the private CA's TLS when there is one).
 *
 * @module
 */

/** The API as the demo's admin calls it. */
export interface DemoApi {
  /** POSTs `body` as JSON to `path` at `base` (the main API by default); throws on an error status. */
  // deno-lint-ignore no-explicit-any
  call(path: string, body: unknown, base?: string): Promise<any>;
  /** PUTs `body` as JSON to `path` at the main API; throws on an error status. */
  // deno-lint-ignore no-explicit-any
  put(path: string, body: unknown): Promise<any>;
  /** GETs `path` at `base` (the main API by default); undefined on an error status. */
  // deno-lint-ignore no-explicit-any
  get(path: string, base?: string): Promise<any>;
}

/** The API at `api`, called with `token`, over `client` when given. */
export function demoApi(
  api: string,
  token: string,
  options: { client: Deno.HttpClient | undefined },
): DemoApi {
  const { client } = options;
  const send = async (method: string, path: string, body: unknown, base = api) => {
    const res = await fetch(`${base}${path}`, {
      ...(client ? { client } : {}),
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`${path}: ${res.status} ${json.detail ?? ""}`);
    return json;
  };
  const get = async (path: string, base = api) => {
    const res = await fetch(`${base}${path}`, {
      ...(client ? { client } : {}),
      headers: { authorization: `Bearer ${token}` },
    });
    return res.ok ? await res.json() : undefined;
  };
  return {
    call: (path, body, base) => send("POST", path, body, base),
    put: (path, body) => send("PUT", path, body),
    get,
  };
}

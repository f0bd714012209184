/**
 * `./vend publish RECIPE.json NAME=FILE... [--api URL] [--token TOKEN]`: publishes a component
 * version through the fleet API (admin): each artifact is streamed up with
 * `PUT /components/{c}/versions/{v}/artifacts/{name}` (any size, e.g. a firmware with its
 * runtime), then `POST /components/versions` publishes the recipe (a JSON file) with them. The API
 * chunks, stores and signs it; devices then get it through a deployment. `--api` defaults to
 * VEND_API_URL, `--token` to VEND_TOKEN.
 *
 * @example
 * ```sh
 * ./vend build edge --target aarch64 --out dist
 * ./vend publish agent-0.2.0.json \
 *   firmware-aarch64.tar=dist/vend-edge-0.2.0-aarch64.firmware.tar --token "$ADMIN_TOKEN"
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";

const USAGE = "Usage: ./vend publish RECIPE.json NAME=FILE [NAME=FILE ...] [--api URL] " +
  "[--token TOKEN]";

/** What {@link publish} sends, read from the command line's files. */
export interface PublishRequest {
  readonly recipe: unknown;
  readonly artifacts: readonly { readonly name: string; readonly path: string }[];
}

/** The API refused the version. */
export class PublishRefusedError extends Error {
  /** The field the API named, if any. */
  readonly field: string | undefined;
  /** Creates the error. */
  constructor(message: string, field?: string) {
    super(message);
    this.name = "PublishRefusedError";
    this.field = field;
  }
}

/** Reads the recipe and the `NAME=FILE` artifacts; bad arguments throw TypeError naming them. */
export async function readPublishRequest(
  recipePath: string,
  artifacts: readonly string[],
): Promise<PublishRequest> {
  let recipe: unknown;
  try {
    recipe = JSON.parse(await Deno.readTextFile(recipePath));
  } catch (e) {
    throw new TypeError(`Cannot read recipe "${recipePath}": ${(e as Error).message}`);
  }
  if (artifacts.length === 0) throw new TypeError("Cannot publish without an artifact (NAME=FILE)");
  const out = [];
  for (const a of artifacts) {
    const at = a.indexOf("=");
    if (at <= 0 || at === a.length - 1) {
      throw new TypeError(`Cannot read artifact "${a}": expected NAME=FILE`);
    }
    const name = a.slice(0, at);
    const file = a.slice(at + 1);
    try {
      if (!(await Deno.stat(file)).isFile) throw new Error("not a file");
      out.push({ name, path: file });
    } catch (e) {
      throw new TypeError(`Cannot read artifact "${name}" from "${file}": ${(e as Error).message}`);
    }
  }
  return { recipe, artifacts: out };
}

/** Uploads the artifacts, then publishes the version; resolves with what it published. */
export async function publish(
  request: PublishRequest,
  options: { api: string; token: string; signal?: AbortSignal },
): Promise<{ component: string; version: string; keyId: string }> {
  const recipe = request.recipe as { component?: unknown; version?: unknown };
  if (typeof recipe?.component !== "string" || typeof recipe.version !== "string") {
    throw new TypeError("Cannot publish: the recipe has no component and version");
  }
  const auth = { authorization: `Bearer ${options.token}` };
  const signal = options.signal ? { signal: options.signal } : {};
  for (const a of request.artifacts) {
    const path = `/components/${encodeURIComponent(recipe.component)}/versions/` +
      `${encodeURIComponent(recipe.version)}/artifacts/${encodeURIComponent(a.name)}`;
    const file = await Deno.open(a.path);
    let res: Response;
    try {
      res = await fetch(new URL(path, options.api), {
        method: "PUT",
        headers: { ...auth, "content-type": "application/octet-stream" },
        body: file.readable, // streamed: the file is never whole in memory
        ...signal,
      });
    } finally {
      closeUnlessClosed(file);
    }
    await refusal(res, `the upload of "${a.name}"`);
  }
  const res = await fetch(new URL("/components/versions", options.api), {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({
      recipe: request.recipe,
      artifacts: request.artifacts.map((a) => ({ name: a.name, uploaded: true })),
    }),
    ...signal,
  });
  return await refusal(res, "the version");
}

/** Closes `file` unless the body stream closed it already (Deno: BadResource); else throws. */
function closeUnlessClosed(file: Deno.FsFile): void {
  try {
    file.close();
  } catch (e) {
    if (!(e instanceof Deno.errors.BadResource)) throw e;
  }
}

/** The response's JSON body, or a PublishRefusedError with the API's problem. */
async function refusal(res: Response, what: string) {
  // A body that is not JSON (a proxy's error page) reads as none; a body that cannot be read
  // propagates.
  const body = await res.json().catch((e) => {
    if (!(e instanceof SyntaxError)) throw e;
    return {};
  });
  if (!res.ok) {
    const detail = [body.title, body.detail].filter(Boolean).join(": ") || res.statusText;
    throw new PublishRefusedError(
      `The API refused ${what} (${res.status}): ${detail}` +
        (body.field ? ` [field ${body.field}]` : ""),
      body.field,
    );
  }
  return body;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { api: { type: "string" }, token: { type: "string" } },
    allowPositionals: true,
    strict: true,
  });
  const api = values.api ?? Deno.env.get("VEND_API_URL");
  const token = values.token ?? Deno.env.get("VEND_TOKEN");
  const [recipePath, ...artifacts] = positionals;
  if (!recipePath || !api || !token) {
    console.error(USAGE);
    if (!api) console.error("  (no --api and no VEND_API_URL)");
    if (!token) console.error("  (no --token and no VEND_TOKEN)");
    Deno.exit(2);
  }
  try {
    const request = await readPublishRequest(recipePath, artifacts);
    const got = await publish(request, { api, token });
    console.log(`published ${got.component} ${got.version} (signed by key ${got.keyId})`);
  } catch (e) {
    console.error(`vend publish: ${(e as Error).message}`);
    Deno.exit(e instanceof TypeError ? 2 : 1);
  }
}

/**
 * `./vend docs`: regenerates the documentation derived from code: the message-family tables in
 * protocol/README.md and the JSON Schemas in protocol/schema/. With `--check` it writes nothing
 * and exits 1 when a file is out of date.
 *
 * @example
 * ```sh
 * ./vend docs
 * ```
 *
 * @module
 */
import { DOCUMENTED_FAMILIES, jsonSchemaOf, renderSchemaDocs } from "../protocol/mod.ts";
import { ROOT } from "./_repo_root.ts";

const BEGIN = "<!-- schemas:begin -->";
const END = "<!-- schemas:end -->";

/** The files `./vend docs` owns, with their wanted contents. */
export async function wantedDocs(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const readmePath = `${ROOT}protocol/README.md`;
  const readme = await Deno.readTextFile(readmePath);
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) {
    throw new Error(`${readmePath} lacks the ${BEGIN} ... ${END} markers`);
  }
  files.set(
    readmePath,
    `${readme.slice(0, start + BEGIN.length)}\n\n${renderSchemaDocs()}\n${readme.slice(end)}`,
  );
  for (const doc of DOCUMENTED_FAMILIES) {
    files.set(
      `${ROOT}protocol/schema/${doc.file}.json`,
      JSON.stringify(jsonSchemaOf(doc.family), null, 2) + "\n",
    );
  }
  return files;
}

if (import.meta.main) {
  const check = Deno.args.includes("--check");
  const stale: string[] = [];
  for (const [path, text] of await wantedDocs()) {
    const current = await Deno.readTextFile(path).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e; // not written yet: stale
      return undefined;
    });
    if (current === text) continue;
    stale.push(path.slice(ROOT.length));
    if (!check) {
      await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      const tmp = `${path}.tmp`;
      await Deno.writeTextFile(tmp, text);
      await Deno.rename(tmp, path);
    }
  }
  if (check && stale.length > 0) {
    console.error(`out of date (run ./vend docs): ${stale.join(", ")}`);
    Deno.exit(1);
  }
  console.log(stale.length === 0 ? "docs: up to date" : `docs: wrote ${stale.join(", ")}`);
}

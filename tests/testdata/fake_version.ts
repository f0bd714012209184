/**
 * A stand-in device program for supervisor tests (a real process): it behaves as its first
 * argument says. `healthy` reports healthy at once and runs until SIGTERM; `crash` exits 1 at
 * start; `hang` runs and never reports healthy; `switch` exits with the switch code.
 */
const mode = Deno.args[0];
const dir = Deno.env.get("VEND_OTA_DIR")!;
const version = Deno.env.get("VEND_VERSION")!;
await Deno.writeTextFile(`${dir}/started.log`, `${version} ${mode}\n`, { append: true });
if (mode === "crash") Deno.exit(1);
if (mode === "switch") Deno.exit(75);
if (mode === "healthy") {
  await Deno.writeTextFile(
    `${dir}/healthy.json`,
    JSON.stringify({ version, pid: Deno.pid, at: Date.now() }),
  );
}
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
setInterval(() => {}, 1000);

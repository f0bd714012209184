/**
 * `vend-supervisor`: runs the device program from the active A/B slot and keeps the device on a
 * working version (see `supervisor.ts`). The init system (systemd) runs this, not the agent.
 *
 * ```sh
 * vend-supervisor --ota-dir /var/lib/vendstream/ota \
 *   [--install /opt/vend-edge --version 0.1.0] -- --config /etc/vendstream/agent.json
 * ```
 *
 * `--install DIR --version V` puts a first version into slot `a` when the device has none (the
 * factory image). The arguments after `--` are the agent's.
 *
 * @example
 * ```sh
 * deno run -A edge/supervisor_main.ts --ota-dir /tmp/ota -- --config agent.json --simulate
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { OtaSlots, runSupervisor } from "./updates/mod.ts";
import { onShutdown } from "../runtime/mod.ts";

/** Runs the supervisor; resolves with the exit code. */
export async function main(args: readonly string[] = Deno.args): Promise<number> {
  const split = args.indexOf("--");
  const own = split >= 0 ? args.slice(0, split) : [...args];
  const agentArgs = split >= 0 ? args.slice(split + 1) : [];
  const { values } = parseArgs({
    args: own,
    options: {
      "ota-dir": { type: "string" },
      install: { type: "string" },
      version: { type: "string" },
    },
    strict: true,
  });
  const dir = values["ota-dir"];
  if (!dir) {
    console.error("vend-supervisor: --ota-dir is required");
    return 2;
  }
  const slots = await OtaSlots.open(dir);
  const state = await slots.read();
  if (values.install) {
    if (!values.version) {
      console.error("vend-supervisor: --install needs --version");
      return 2;
    }
    if (!state.slots[state.active]) {
      const target = slots.slotDir("a");
      const out = await new Deno.Command("cp", { args: ["-a", `${values.install}/.`, target] })
        .output();
      if (!out.success) {
        console.error(`vend-supervisor: cannot install ${values.install} into slot a`);
        return 1;
      }
      await slots.write({
        active: "a",
        slots: { a: { version: values.version, command: "vend-edge", args: agentArgs } },
        trial: null,
        last: null,
      });
    }
  }
  // The agent it runs stops first: a second signal does not leave it running alone.
  await runSupervisor(slots, { signal: onShutdown({ exitOnSecondSignal: false }) });
  return 0;
}

if (import.meta.main) Deno.exit(await main());

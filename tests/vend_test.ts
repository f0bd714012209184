import assert from "node:assert/strict";
import { ROOT } from "./harness.ts";

async function vend(...args: string[]) {
  const out = await new Deno.Command(`${ROOT}vend`, { args, stdin: "null" }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("vend with an unknown subcommand prints the list and exits 2", async () => {
  const r = await vend("frobnicate");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command "frobnicate"/);
  for (const cmd of ["demo", "test", "bench NAME", "help"]) {
    assert.ok(r.stderr.includes(`  ${cmd}`), `list lacks ${cmd}`);
  }
});

Deno.test("vend help lists the subcommands on stdout and exits 0", async () => {
  const r = await vend("help");
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^Usage: \.\/vend COMMAND/);
});

Deno.test("vend bench with an unknown name lists the benchmarks and exits 2", async () => {
  const r = await vend("bench", "no_such_bench");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown benchmark "no_such_bench"; available: .*nats/);
});

import assert from "node:assert/strict";
import { lines, ROOT } from "./harness.ts";

Deno.test("vend eval --live --hard plays seeds of the hard world through the agents, the cloud and payments at 640x480 and 15 fps, and reports them", async () => {
  // Above the demo's 5 fps (the demo test runs those): the frame rate the talk asks for. The
  // seeds' hard world has two hands in both sessions and another site's light in the first.
  const child = new Deno.Command(`${ROOT}vend`, {
    args: [
      "eval",
      "--live",
      "--hard",
      "--seeds",
      "2000011..2000012",
      "--width",
      "640",
      "--height",
      "480",
      "--fps",
      "15",
    ],
    env: { VEND_API_PORT: "0" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const said: string[] = [];
  const stderr = (async () => {
    for await (const line of lines(child.stderr)) said.push(line);
  })();
  const out: string[] = [];
  for await (const line of lines(child.stdout)) out.push(line);
  const { code } = await child.status;
  await stderr;
  assert.equal(code, 0, said.join("\n"));
  const report = JSON.parse(out.at(-1)!);
  assert.equal(report.mode, "live");
  assert.equal(report.sessions, 2);
  assert.deepEqual([report.width, report.height, report.fps], [640, 480, 15]);
  assert.equal(report.world, "hard");
  assert.equal(report.by_condition.two_hands?.sessions, 2, JSON.stringify(report.by_condition));
  assert.equal(report.by_condition.site_lighting?.sessions, 1, JSON.stringify(report.by_condition));
  // No wrong charge, ever; each session charged exactly or sent to review (with its reasons).
  assert.equal(report.wrong_charge_rate, 0, said.join("\n"));
  assert.equal(report.failed_rate, 0, said.join("\n"));
  assert.equal(report.exact_match + report.review_rate, 1);
  // And the model charges: 60 of 60 live sessions were exact when measured (docs/benchmarks.md);
  // a live path that sends most sessions to review fails here. (The fractional frame times that
  // once did so in the demo at 15 fps did not show in this setup: session_events_test holds it.)
  assert.ok(report.exact_match >= 0.5, said.join("\n"));
  const reasons = Object.values(report.review_reasons as Record<string, number>)
    .reduce((a, b) => a + b, 0);
  assert.ok(report.review_rate === 0 ? reasons === 0 : reasons > 0, JSON.stringify(report));
  // Each seed's line names its truth: the evaluator, not the devices, knows it.
  // and the conditions it played.
  for (const seed of [2000011, 2000012]) {
    assert.ok(
      said.some((l) =>
        l.startsWith(`eval --live: seed ${seed} (two_hands`) && l.includes("truth [")
      ),
      said.join("\n"),
    );
  }
});

Deno.test("vend eval --live refuses a bad --fps with exit code 2", async () => {
  const { code, stderr } = await new Deno.Command(`${ROOT}vend`, {
    args: ["eval", "--live", "--fps", "0"],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(code, 2);
  assert.match(new TextDecoder().decode(stderr), /Invalid --fps "0": expected an integer 1\.\.30/);
});

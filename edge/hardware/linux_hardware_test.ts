import assert from "node:assert/strict";
import { gpioCommands, LinuxHardware } from "./linux_hardware.ts";

Deno.test("LinuxHardware drives the lock and reads the door through gpiod command lines", async () => {
  const wiring = {
    chip: "gpiochip0",
    lockLine: 17,
    doorLine: 27,
    ledLine: 22,
    unlockLevel: 1 as const,
  };
  const c = gpioCommands(wiring);
  assert.deepEqual(c.setLock(false), ["gpioset", ["gpiochip0", "17=1"]]);
  assert.deepEqual(c.setLock(true), ["gpioset", ["gpiochip0", "17=0"]]);
  assert.deepEqual(c.readDoor(), ["gpioget", ["gpiochip0", "27"]]);
  assert.deepEqual(c.setLed(true), ["gpioset", ["gpiochip0", "22=1"]]);
  const calls: string[] = [];
  const hw = new LinuxHardware(wiring, (cmd, args) => {
    calls.push(`${cmd} ${args.join(" ")}`);
    return Promise.resolve(cmd === "gpioget" ? "1\n" : "");
  });
  await hw.open();
  assert.equal(hw.door.state, "open");
  await hw.lock.unlock(50);
  assert.equal(hw.lock.locked, false);
  await hw.lock.lock();
  assert.deepEqual(calls, [
    "gpioset gpiochip0 17=0",
    "gpioget gpiochip0 27",
    "gpioset gpiochip0 17=1",
    "gpioset gpiochip0 17=0",
  ]);
  await hw[Symbol.asyncDispose]();
});

Deno.test("LinuxHardware logs a relock that fails (nobody awaits it), and a lock at the stop", async () => {
  const wiring = { chip: "gpiochip0", lockLine: 17, doorLine: 27, unlockLevel: 1 as const };
  const lines: Array<{ level: string; msg: string; error: unknown }> = [];
  let jammed = false;
  const hw = new LinuxHardware(wiring, (cmd, args) => {
    // The relay jams once unlocked: locking fails from then on.
    if (jammed && cmd === "gpioset" && args[1] === "17=0") {
      return Promise.reject(new Error("gpioset: line busy"));
    }
    return Promise.resolve(cmd === "gpioget" ? "0\n" : "");
  }, { log: (level, msg, f) => void lines.push({ level, msg, error: f?.error }) });
  await hw.open();
  jammed = true;
  await hw.lock.unlock(10);
  const deadline = Date.now() + 5000;
  while (lines.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(lines, [{
    level: "error",
    msg: "cannot lock the door again after an unlock",
    error: "Error: gpioset: line busy",
  }]);
  assert.equal(hw.lock.locked, false);
  await hw[Symbol.asyncDispose]();
  assert.equal(lines.length, 2);
  assert.equal(lines[1]!.msg, "cannot lock the door at the stop");
});

// The devices of the OTA benchmark, as their own process: N simulated devices, each running the
// real Updater (edge/sim/simulated_update_device.ts), 25 to a NATS connection, chunks in a pooled
// store (each device's own set; the bytes once on disk). Private to bench/.
// Args: NATS_URL DEVICES DIR TRUSTED_KEYS_JSON. Prints "ready" once all watch their shadow; each
// line on stdin asks for {"in_bytes": N} (bytes the devices' connections received); EOF stops.
import { connectNats } from "../cloud/mod.ts";
import { SimulatedUpdateDevice } from "../edge/sim/mod.ts";
import { FileChunkStore, PooledChunkStore } from "../edge/updates/mod.ts";
import type { NatsConnection } from "@nats-io/nats-core";

const [url, devicesArg, dir, keysJson] = Deno.args;
// The credentials and CA come from the environment the benchmark gives this process.
const target = {
  url: url!,
  ...(Deno.env.get("NATS_CREDS") ? { credentialsFile: Deno.env.get("NATS_CREDS")! } : {}),
  ...(Deno.env.get("NATS_CA") ? { caFile: Deno.env.get("NATS_CA")! } : {}),
};
const count = Number(devicesArg);
const PER_CONNECTION = 25;
const pool = new FileChunkStore(`${dir}/pool`);
const conns: NatsConnection[] = [];
const devices: SimulatedUpdateDevice[] = [];
for (let i = 0; i < count; i++) {
  if (i % PER_CONNECTION === 0) conns.push(await connectNats(target, { name: `bench-ota-${i}` }));
  const id = `bench-${String(i).padStart(4, "0")}-a`;
  devices.push(
    await SimulatedUpdateDevice.start(conns.at(-1)!, {
      deviceId: id,
      dir: `${dir}/${id}`,
      trustedKeys: JSON.parse(keysJson!),
      chunks: new PooledChunkStore(pool),
      discardInstalled: true,
    }),
  );
}
console.log("ready");
const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
for await (const _ of lines) {
  const inBytes = conns.reduce((n, c) => n + c.stats().inBytes, 0);
  console.log(JSON.stringify({ in_bytes: inBytes }));
}
await Promise.all(devices.map((d) => d[Symbol.asyncDispose]()));
await Promise.all(conns.map((c) => c.close()));

import assert from "node:assert/strict";
import { createUser, decode } from "@nats-io/jwt";
import { NatsAccounts, NatsAccountsError } from "./nats_accounts.ts";

Deno.test("NatsAccounts makes its keys once, private, and refuses a key others can read", async () => {
  const dir = await Deno.makeTempDir();
  const a = await NatsAccounts.open(dir);
  for (const name of ["operator", "system", "cloud", "devices"]) {
    assert.equal((await Deno.stat(`${dir}/${name}.nk`)).mode! & 0o777, 0o600, name);
  }
  const b = await NatsAccounts.open(dir);
  assert.equal(b.publicKey("devices"), a.publicKey("devices"), "the same keys on reopening");
  await Deno.chmod(`${dir}/devices.nk`, 0o644);
  await assert.rejects(
    () => NatsAccounts.open(dir),
    (e: Error) => e instanceof NatsAccountsError && /devices\.nk.*mode 644/.test(e.message),
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("NatsAccounts issues a device's JWT for the device's own key, with expiry, and revokes it for good", async () => {
  const dir = await Deno.makeTempDir();
  const accounts = await NatsAccounts.open(dir);
  const device = createUser();
  const issued = await accounts.deviceCredentials(
    { region: "local", deviceId: "m001-a", peers: ["m001-b"] },
    { publicKey: device.getPublicKey(), expiresInS: 60 },
  );
  assert.equal(issued.creds, undefined, "no seed: the device keeps its own");
  const claims = decode<{ pub: { allow: string[] } }>(issued.jwt);
  assert.equal(claims.sub, device.getPublicKey());
  assert.equal(claims.iss, accounts.publicKey("devices"));
  assert.ok(claims.exp! - Math.floor(Date.now() / 1000) <= 60);
  assert.ok(claims.nats.pub!.allow.includes("vs.*.dev.m001-a.hb"));
  await assert.rejects(
    () =>
      accounts.deviceCredentials({ region: "local", deviceId: "m001-a", peers: [] }, {
        publicKey: accounts.publicKey("cloud"),
      }),
    /not a user key/,
  );
  await assert.rejects(
    () => accounts.userCredentials("devices", "x", { expiresInS: 0 }),
    RangeError,
  );
  await accounts.mergeRevocations({ [device.getPublicKey()]: Math.floor(Date.now() / 1000) + 1 });
  assert.ok(accounts.isRevoked(device.getPublicKey()));
  const devicesJwt = decode<{ revocations: Record<string, number> }>(
    (await accounts.jwts()).devices,
  );
  assert.ok(devicesJwt.nats.revocations![device.getPublicKey()]! > 0);
  // Kept: the accounts opened again (a restarted server) still revoke it.
  const again = await NatsAccounts.open(dir);
  assert.ok(again.isRevoked(device.getPublicKey()));
  await Deno.remove(dir, { recursive: true });
});

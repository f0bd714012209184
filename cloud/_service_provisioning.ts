/**
 * Devices' provisioning, when the service has the accounts' keys: its connection to the system
 * account (revocations are pushed to the servers through it) and its NATS service.
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { connectNats, type NatsTarget } from "./nats/mod.ts";
import { DeviceProvisioning, type NatsAccounts } from "./provisioning/mod.ts";
import { type Logger, writePrivateFile } from "../runtime/mod.ts";

/** What {@link startProvisioning} started. */
export interface Provisioning {
  /** Devices' claims, renewals and revocations. */
  readonly provisioning: DeviceProvisioning;
  /** The system account's connection; the service closes it when it stops. */
  readonly system: NatsConnection;
}

/**
 * Writes the system account's credentials beside the accounts' keys, connects with them as
 * `vendstream-provisioning-REGION`, opens the provisioning and serves it until `signal` aborts.
 */
export async function startProvisioning(
  nc: NatsConnection,
  { target, accounts, region, logger, credentialsTtlS, signal }: {
    target: NatsTarget;
    accounts: NatsAccounts;
    region: string;
    logger: Logger;
    credentialsTtlS?: number | undefined;
    signal: AbortSignal;
  },
): Promise<Provisioning> {
  // Revocations are pushed to the servers through the system account.
  const systemCreds = `${accounts.dir}/system.creds`;
  const sys = await accounts.userCredentials("system", `cloud-${region}`);
  await writePrivateFile(systemCreds, sys.creds!);
  const system = await connectNats({ ...target, credentialsFile: systemCreds }, {
    name: `vendstream-provisioning-${region}`,
  });
  const provisioning = await DeviceProvisioning.open(nc, accounts, {
    region,
    system,
    logger,
    ...(credentialsTtlS ? { credentialsTtlS } : {}),
  });
  await provisioning.serve({ signal });
  return { provisioning, system };
}

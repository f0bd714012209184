/**
 * NATS decentralized authentication for Vendstream: an operator, a system account, a cloud
 * account (JetStream, the services) and a devices account (one user per device), as JWTs made
 * with `@nats-io/jwt` from nkeys kept in a folder (each seed a file of mode 0600). From them it
 * writes the server's resolver configuration and issues users' credentials (`.creds` files).
 *
 * In production the operator's seed stays offline; only the devices account's seed (to issue
 * devices' credentials) and the cloud's own credentials are on the cloud's machines.
 *
 * @example
 * ```ts
 * import { NatsAccounts } from "./nats_accounts.ts";
 *
 * const accounts = await NatsAccounts.open(await Deno.makeTempDir());
 * const conf = accounts.serverConfig({ resolverDir: "/var/lib/nats/jwt" });
 * const creds = await accounts.cloudCredentials();
 * ```
 *
 * @module
 */
import {
  createAccount,
  createOperator,
  createUser,
  encodeAccount,
  encodeOperator,
  encodeUser,
  fmtCreds,
  fromPublic,
  fromSeed,
  type KeyPair,
} from "@nats-io/jwt";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  claimPermissions,
  CLOUD_TO_DEVICES,
  type DeviceGrant,
  devicePermissions,
  DEVICES_TO_CLOUD,
  type UserPermissions,
} from "./device_permissions.ts";
import { writePrivateFile } from "../../runtime/mod.ts";

/** The accounts of a Vendstream NATS system. */
export type AccountName = "system" | "cloud" | "devices";

/** The seeds of the key folder: operator and accounts. */
const KEY_FILES = ["operator", "system", "cloud", "devices"] as const;

const UNLIMITED = {
  subs: -1,
  data: -1,
  payload: -1,
  imports: -1,
  exports: -1,
  wildcards: true,
  conn: -1,
  leaf: -1,
};

const JETSTREAM = {
  mem_storage: -1,
  disk_storage: -1,
  streams: -1,
  consumer: -1,
  max_ack_pending: -1,
  mem_max_stream_bytes: -1,
  disk_max_stream_bytes: -1,
};

/** Options of a user's credentials. */
export interface CredentialOptions {
  /** Seconds until the credentials expire; none when absent. */
  readonly expiresInS?: number;
  /** The user's public nkey, when the user made its own key pair (a device never sends its seed). */
  readonly publicKey?: string;
}

/** Issued credentials: the `.creds` text (JWT, and the seed when this side made the key). */
export interface IssuedCredentials {
  /** The user JWT. */
  readonly jwt: string;
  /** The user's public nkey (`U...`). */
  readonly publicKey: string;
  /** Expiry, Unix seconds; absent when it never expires. */
  readonly expiresAt?: number;
  /** The `.creds` file contents; only when this side generated the user's key pair. */
  readonly creds?: Uint8Array;
}

/** The folder of keys is unusable. */
export class NatsAccountsError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NatsAccountsError";
  }
}

async function loadOrCreateSeed(
  dir: string,
  name: string,
  create: () => KeyPair,
): Promise<KeyPair> {
  const path = `${dir}/${name}.nk`;
  try {
    const seed = (await Deno.readTextFile(path)).trim();
    const mode = (await Deno.stat(path)).mode;
    if (mode !== null && (mode & 0o077) !== 0) {
      throw new NatsAccountsError(
        `Refusing NATS key "${path}": mode ${
          (mode & 0o777).toString(8)
        } lets others read it (expected 600)`,
      );
    }
    return fromSeed(new TextEncoder().encode(seed));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      if (e instanceof NatsAccountsError) throw e;
      throw new NatsAccountsError(`Cannot read NATS key "${path}": ${(e as Error).message}`, {
        cause: e,
      });
    }
  }
  const kp = create();
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(tmp, new TextDecoder().decode(kp.getSeed()) + "\n", { mode: 0o600 });
  try {
    // Never replace a key another process created meanwhile (link fails when it exists).
    await Deno.link(tmp, path);
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    await Deno.remove(tmp);
    return await loadOrCreateSeed(dir, name, create);
  }
  await Deno.remove(tmp);
  return kp;
}

/** The operator and accounts of one Vendstream NATS system, from its key folder. */
export class NatsAccounts {
  /** The key folder. */
  readonly dir: string;
  readonly #keys: Record<(typeof KEY_FILES)[number], KeyPair>;
  #jwts: Record<"operator" | AccountName, string> | undefined;
  #revocations: Record<string, number> = {};

  private constructor(dir: string, keys: Record<(typeof KEY_FILES)[number], KeyPair>) {
    this.dir = dir;
    this.#keys = keys;
  }

  /** Loads the keys from `dir`, creating the missing ones (mode 0600). */
  static async open(dir: string): Promise<NatsAccounts> {
    if (typeof dir !== "string" || dir === "") {
      throw new TypeError(`Cannot open NATS accounts: folder ${JSON.stringify(dir)} is invalid`);
    }
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    const keys = {} as Record<(typeof KEY_FILES)[number], KeyPair>;
    for (const name of KEY_FILES) {
      keys[name] = await loadOrCreateSeed(
        dir,
        name,
        name === "operator" ? createOperator : createAccount,
      );
    }
    const accounts = new NatsAccounts(dir, keys);
    try {
      accounts.#revocations = JSON.parse(await Deno.readTextFile(`${dir}/revocations.json`));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    return accounts;
  }

  /** The public key (`A...`) of an account. */
  publicKey(account: AccountName): string {
    return this.#keys[account].getPublicKey();
  }

  /** The operator's and accounts' JWTs (made once per instance, or after a revocation). */
  async jwts(): Promise<Readonly<Record<"operator" | AccountName, string>>> {
    if (this.#jwts) return this.#jwts;
    const op = this.#keys.operator;
    const system = this.#keys.system.getPublicKey();
    const cloud = this.#keys.cloud.getPublicKey();
    const devices = this.#keys.devices.getPublicKey();
    const operator = await encodeOperator("vendstream", op, { system_account: system });
    const sys = await encodeAccount("SYS", this.#keys.system, { limits: UNLIMITED }, {
      signer: op,
    });
    const cloudJwt = await encodeAccount("CLOUD", this.#keys.cloud, {
      limits: { ...UNLIMITED, ...JETSTREAM },
      exports: CLOUD_TO_DEVICES.map((s) => ({ ...s })),
      imports: DEVICES_TO_CLOUD.map((s) => ({ ...s, account: devices })),
    }, { signer: op });
    const devicesJwt = await encodeAccount("DEVICES", this.#keys.devices, {
      limits: UNLIMITED,
      exports: DEVICES_TO_CLOUD.map((s) => ({ ...s })),
      imports: CLOUD_TO_DEVICES.map((s) => ({ ...s, account: cloud })),
      revocations: { ...this.#revocations },
    }, { signer: op });
    this.#jwts = { operator, system: sys, cloud: cloudJwt, devices: devicesJwt };
    return this.#jwts;
  }

  /**
   * The server configuration's authentication part: the operator, the system account and a
   * full resolver (in `resolverDir`) preloaded with the accounts.
   */
  async serverConfig(options: { resolverDir: string }): Promise<string> {
    const j = await this.jwts();
    return [
      `operator: ${JSON.stringify(j.operator)}`,
      `system_account: ${this.publicKey("system")}`,
      `resolver: { type: full, dir: ${JSON.stringify(options.resolverDir)}, allow_delete: false }`,
      "resolver_preload: {",
      ...(["system", "cloud", "devices"] as const).map((a) =>
        `  ${this.publicKey(a)}: ${JSON.stringify(j[a])}`
      ),
      "}",
    ].join("\n");
  }

  /** Credentials of a user of `account`; without permissions the user may do anything there. */
  async userCredentials(
    account: AccountName,
    name: string,
    options: CredentialOptions & { permissions?: UserPermissions } = {},
  ): Promise<IssuedCredentials> {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$/.test(name)) {
      throw new TypeError(`Cannot issue NATS credentials: user name ${JSON.stringify(name)}`);
    }
    if (
      options.expiresInS !== undefined &&
      (!Number.isInteger(options.expiresInS) || options.expiresInS < 1)
    ) {
      throw new RangeError(
        `Cannot issue NATS credentials: expiresInS ${options.expiresInS} is not a positive integer`,
      );
    }
    let user: KeyPair;
    try {
      user = options.publicKey ? fromPublic(options.publicKey) : createUser();
    } catch (cause) {
      throw new TypeError(
        `Cannot issue NATS credentials: ${JSON.stringify(options.publicKey)} is not a public nkey`,
        { cause },
      );
    }
    if (!user.getPublicKey().startsWith("U")) {
      throw new TypeError(
        `Cannot issue NATS credentials: ${user.getPublicKey()} is not a user key (U...)`,
      );
    }
    const expiresAt = options.expiresInS === undefined
      ? undefined
      : Math.floor(Date.now() / 1000) + options.expiresInS;
    const jwt = await encodeUser(
      name,
      user,
      this.#keys[account],
      options.permissions ? structuredClone(options.permissions) : {},
      expiresAt === undefined ? {} : { exp: expiresAt },
    );
    return {
      jwt,
      publicKey: user.getPublicKey(),
      ...(expiresAt === undefined ? {} : { expiresAt }),
      ...(options.publicKey ? {} : { creds: fmtCreds(jwt, user) }),
    };
  }

  /** Credentials of a cloud service user (anything in the cloud account). */
  cloudCredentials(name = "cloud"): Promise<IssuedCredentials> {
    return this.userCredentials("cloud", name);
  }

  /**
   * Adds revocations (user public key -> Unix seconds: credentials issued before are refused),
   * recorded in NATS by every cloud instance, to this folder's `revocations.json`, so the JWT
   * pushed next, and the configuration of a server started later, carry all of them.
   */
  async mergeRevocations(revocations: Readonly<Record<string, number>>): Promise<void> {
    let changed = false;
    for (const [key, at] of Object.entries(revocations)) {
      if (!/^U[A-Z2-7]{55}$/.test(key) || !Number.isInteger(at)) continue;
      if ((this.#revocations[key] ?? 0) < at) {
        this.#revocations[key] = at;
        changed = true;
      }
    }
    if (!changed) return;
    await writePrivateFile(`${this.dir}/revocations.json`, JSON.stringify(this.#revocations));
    this.#jwts = undefined;
  }

  /** True when `publicKey`'s credentials were revoked. */
  isRevoked(publicKey: string): boolean {
    return publicKey in this.#revocations;
  }

  /**
   * Sends an account's current JWT to the servers (through the system account), which apply it
   * at once: a revoked user is disconnected. `system` is a connection with system credentials.
   */
  async pushAccount(system: NatsConnection, account: AccountName): Promise<void> {
    const jwt = (await this.jwts())[account];
    const reply = await system.request(
      `$SYS.REQ.ACCOUNT.${this.publicKey(account)}.CLAIMS.UPDATE`,
      jwt,
      { timeout: 5000 },
    );
    const answer = reply.json<{ error?: { description?: string } }>();
    if (answer.error) {
      throw new NatsAccountsError(
        `Cannot update account ${account}: ${answer.error.description ?? JSON.stringify(answer)}`,
      );
    }
  }

  /** Credentials of a batch's claim user: only provisioning requests (see `claimPermissions`). */
  claimCredentials(batchId: string, options: CredentialOptions = {}): Promise<IssuedCredentials> {
    return this.userCredentials("devices", `claim-${batchId}`, {
      ...options,
      permissions: claimPermissions(batchId),
    });
  }

  /** Credentials of one device, limited to its own subjects (see `devicePermissions`). */
  deviceCredentials(
    grant: DeviceGrant,
    options: CredentialOptions = {},
  ): Promise<IssuedCredentials> {
    return this.userCredentials("devices", grant.deviceId, {
      ...options,
      permissions: devicePermissions(grant),
    });
  }
}

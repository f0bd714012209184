/**
 * A private certificate authority for the demo, the tests and a single-machine installation:
 * an ECDSA P-256 CA (`ca.pem`, its key `ca.key` of mode 0600) and server certificates it signs
 * for the names and addresses a server answers on, made with Debian's `openssl`. Clients trust
 * the CA's file (`NATS_CA`, `caFile`, `Deno.createHttpClient({ caCerts })`). A production
 * installation uses certificates of a real CA instead (see README, "Security").
 *
 * @example
 * ```ts
 * import { ensurePrivateCa, issueServerCertificate } from "./private_ca.ts";
 *
 * const ca = await ensurePrivateCa("/var/lib/vendstream/auth");
 * const tls = await issueServerCertificate(ca, "/var/lib/vendstream/nats/tls", { name: "nats" });
 * console.log(tls.certFile, tls.keyFile, tls.caFile);
 * ```
 *
 * @module
 */
import { pathExists } from "../../runtime/mod.ts";

/** A certificate authority's files. */
export interface PrivateCa {
  /** The CA certificate (PEM): what clients trust. */
  readonly caFile: string;
  /** The CA's private key (PEM, mode 0600). */
  readonly caKeyFile: string;
}

/** A server's certificate, its key, and the CA that signed it. */
export interface TlsFiles {
  /** Certificate and the CA's (a full chain, PEM). */
  readonly certFile: string;
  /** Private key (PEM, mode 0600). */
  readonly keyFile: string;
  /** The signing CA's certificate (PEM). */
  readonly caFile: string;
}

/** `openssl` failed or is missing. */
export class CertificateError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CertificateError";
  }
}

/** openssl req arguments for a new ECDSA P-256 key, unencrypted (it is kept with mode 0600). */
const NEW_P256_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

async function openssl(args: string[]): Promise<void> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("openssl", { args, stdout: "piped", stderr: "piped" }).output();
  } catch (cause) {
    throw new CertificateError(
      `Cannot run openssl: ${(cause as Error).message}; ./vend setup installs it`,
      { cause },
    );
  }
  if (!out.success) {
    throw new CertificateError(
      `openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr).trim().slice(0, 500)}`,
    );
  }
}

/** The CA in `dir`, created on first use (its key never leaves the folder). */
export async function ensurePrivateCa(dir: string): Promise<PrivateCa> {
  if (typeof dir !== "string" || dir === "") {
    throw new TypeError(`Cannot make a CA: folder ${JSON.stringify(dir)} is invalid`);
  }
  const ca = { caFile: `${dir}/ca.pem`, caKeyFile: `${dir}/ca.key` };
  if (await pathExists(ca.caFile) && await pathExists(ca.caKeyFile)) return ca;
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${dir}/.ca-${crypto.randomUUID()}`;
  await openssl([
    "req",
    "-x509",
    ...NEW_P256_KEY,
    "-keyout",
    `${tmp}.key`,
    "-out",
    `${tmp}.pem`,
    "-days",
    "3650",
    "-subj",
    "/CN=Vendstream private CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await Deno.chmod(`${tmp}.key`, 0o600);
  // Key first: a CA certificate is only ever seen with its key in place.
  await Deno.rename(`${tmp}.key`, ca.caKeyFile);
  await Deno.rename(`${tmp}.pem`, ca.caFile);
  return ca;
}

/**
 * A server certificate signed by `ca` for `localhost` and `127.0.0.1` (plus `dnsNames` and
 * `ipAddresses`), written to `<dir>/<name>.pem` and `<dir>/<name>.key`; an existing one is kept.
 * With `peer`, it also serves as a client certificate: servers of a cluster or supercluster
 * present it to each other on routes and gateways (mutual TLS).
 */
export async function issueServerCertificate(
  ca: PrivateCa,
  dir: string,
  options: {
    name: string;
    dnsNames?: readonly string[];
    ipAddresses?: readonly string[];
    peer?: boolean;
  },
): Promise<TlsFiles> {
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(options.name)) {
    throw new TypeError(`Cannot issue a certificate named ${JSON.stringify(options.name)}`);
  }
  const files = {
    certFile: `${dir}/${options.name}.pem`,
    keyFile: `${dir}/${options.name}.key`,
    caFile: ca.caFile,
  };
  if (await pathExists(files.certFile) && await pathExists(files.keyFile)) return files;
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const dns = ["localhost", ...(options.dnsNames ?? [])];
  const ips = ["127.0.0.1", ...(options.ipAddresses ?? [])];
  const san = [...dns.map((d) => `DNS:${d}`), ...ips.map((ip) => `IP:${ip}`)].join(",");
  const tmp = `${dir}/.${options.name}-${crypto.randomUUID()}`;
  await Deno.writeTextFile(
    `${tmp}.ext`,
    `subjectAltName=${san}\nextendedKeyUsage=serverAuth${
      options.peer ? ",clientAuth" : ""
    }\nbasicConstraints=CA:FALSE\n` +
      "keyUsage=critical,digitalSignature\n",
  );
  try {
    await openssl([
      "req",
      ...NEW_P256_KEY,
      "-keyout",
      `${tmp}.key`,
      "-out",
      `${tmp}.csr`,
      "-subj",
      `/CN=${dns[0]}`,
    ]);
    await openssl([
      "x509",
      "-req",
      "-in",
      `${tmp}.csr`,
      "-CA",
      ca.caFile,
      "-CAkey",
      ca.caKeyFile,
      "-CAcreateserial",
      "-CAserial",
      `${tmp}.srl`,
      "-out",
      `${tmp}.pem`,
      "-days",
      "825",
      "-extfile",
      `${tmp}.ext`,
    ]);
    await Deno.chmod(`${tmp}.key`, 0o600);
    // A full chain (the certificate, then the CA's), as servers present it.
    await Deno.writeTextFile(
      `${tmp}.pem`,
      await Deno.readTextFile(`${tmp}.pem`) + await Deno.readTextFile(ca.caFile),
    );
    await Deno.rename(`${tmp}.key`, files.keyFile);
    await Deno.rename(`${tmp}.pem`, files.certFile);
  } finally {
    for (const ext of ["ext", "csr", "srl", "key", "pem"]) {
      // Renamed into place, or not made by this run of openssl: not there is fine.
      await Deno.remove(`${tmp}.${ext}`).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      });
    }
  }
  return files;
}

/**
 * The base64 SHA-256 of the CA's public key (SPKI): what Chromium's
 * `--ignore-certificate-errors-spki-list` pins, so a browser trusts exactly this CA.
 */
export async function spkiHash(certFile: string): Promise<string> {
  const pub = await new Deno.Command("openssl", {
    args: ["x509", "-in", certFile, "-pubkey", "-noout"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!pub.success) throw new CertificateError(`Cannot read the key of "${certFile}"`);
  const b64 = new TextDecoder().decode(pub.stdout).replace(/-----[^-]+-----/g, "").replace(
    /\s+/g,
    "",
  );
  const der = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
  return btoa(String.fromCharCode(...digest));
}

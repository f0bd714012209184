/**
 * Serving the API: reading the HTTPS certificate and listening on the preferred port or a free
 * one.
 *
 * @module
 */

/** A certificate chain and its key, PEM, as `Deno.serve` takes them. */
export interface ServeTls {
  /** The certificate (a full chain). */
  cert: string;
  /** The key. */
  key: string;
}

/** The preferred port of the API (0, the default, for any free one); a RangeError when invalid. */
export function apiPort(port: number | undefined): number {
  const p = port ?? 0;
  if (!Number.isInteger(p) || p < 0 || p > 65535) {
    throw new RangeError(`Cannot serve the API on port ${p}: expected 0-65535`);
  }
  return p;
}

/** Reads the certificate and key files; a file that cannot be read is a TypeError naming both. */
export async function readTls(
  files: { certFile: string; keyFile: string } | undefined,
): Promise<ServeTls | undefined> {
  if (!files) return undefined;
  try {
    return {
      cert: await Deno.readTextFile(files.certFile),
      key: await Deno.readTextFile(files.keyFile),
    };
  } catch (cause) {
    throw new TypeError(
      `Cannot serve HTTPS: cannot read "${files.certFile}" or "${files.keyFile}": ${
        (cause as Error).message
      }`,
      { cause },
    );
  }
}

/** Serves `handler` on `port` (0: any free port); when the port is taken, on a free one. */
export function listen(
  handler: Deno.ServeHandler,
  { hostname, port, signal, tls }: {
    hostname: string;
    port: number;
    signal: AbortSignal;
    tls: ServeTls | undefined;
  },
): Deno.HttpServer<Deno.NetAddr> {
  const serve = (p: number) =>
    Deno.serve({ hostname, port: p, signal, handler, onListen: () => {}, ...(tls ?? {}) });
  if (port === 0) return serve(0);
  try {
    return serve(port);
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) return serve(0);
    throw e;
  }
}

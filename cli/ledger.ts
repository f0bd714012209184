/**
 * `./vend ledger check`: reads every payment session and ledger transaction from NATS (NATS_URL,
 * default the local server) and checks the books: every transaction balances and is recorded
 * once, every settled session holds nothing, every session in review or waiting for its cart
 * holds its whole hold, refunds stay within captures. Prints each discrepancy on stderr and one
 * JSON line; exits 1 when there is any.
 *
 * @example
 * ```sh
 * NATS_URL=nats://127.0.0.1:4222 ./vend ledger check
 * VEND_REGION=us-east ./vend ledger check   # one region's books, in a supercluster
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { checkPaymentBooks, connectNats } from "../cloud/mod.ts";
import { SINGLE_SERVER, useRegionLayout } from "../cloud/nats/mod.ts";
import { localNatsTarget } from "../cloud/dev/mod.ts";

if (import.meta.main) {
  const { positionals } = parseArgs({ args: Deno.args, allowPositionals: true, strict: true });
  if (positionals[0] !== "check" || positionals.length !== 1) {
    console.error("Usage: ./vend ledger check");
    Deno.exit(2);
  }
  const nc = await connectNats(localNatsTarget(), { name: "vend-ledger", timeoutMs: 10_000 }).catch(
    (e) => {
      console.error(`vend ledger: ${(e as Error).message}`);
      Deno.exit(1);
    },
  );
  // A region's books (`VEND_REGION`, default `local`): each region keeps its own ledger.
  const region = Deno.env.get("VEND_REGION");
  if (region) useRegionLayout(nc, { ...SINGLE_SERVER, region, primary: region });
  try {
    const r = await checkPaymentBooks(nc);
    for (const d of r.discrepancies) console.error(`ledger: ${d}`);
    console.log(JSON.stringify({ ok: r.discrepancies.length === 0, ...r }));
    if (r.discrepancies.length > 0) Deno.exitCode = 1;
  } finally {
    await nc.close();
  }
}

/**
 * `./vend token --role admin --subject alice [--ttl SECONDS]`: issues an operator API token,
 * signed with the fleet's shared key (in the `service` bucket of NATS_URL, default the local
 * NATS). The first admin token comes from here; later ones from `POST /auth/tokens`.
 *
 * @example
 * ```sh
 * NATS_URL=nats://127.0.0.1:4222 ./vend token --role operator --subject otto
 * ```
 *
 * @module
 */
import { Kvm } from "@nats-io/kv";
import { parseArgs } from "node:util";
import { connectNats, ROLES, TokenService } from "../cloud/mod.ts";
import { localNatsTarget } from "../cloud/dev/mod.ts";
import { buckets } from "../protocol/mod.ts";

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      role: { type: "string" },
      subject: { type: "string" },
      ttl: { type: "string", default: "43200" },
    },
    strict: true,
  });
  const role = values.role as typeof ROLES[number];
  if (!ROLES.includes(role) || !values.subject) {
    console.error(`Usage: ./vend token --role ${ROLES.join("|")} --subject NAME [--ttl SECONDS]`);
    Deno.exit(2);
  }
  const nc = await connectNats(localNatsTarget(), {
    name: "vend-token",
    timeoutMs: 10_000,
  });
  try {
    const tokens = await TokenService.open(
      await new Kvm(nc).create(buckets.service, { history: 1 }),
    );
    console.log(
      await tokens.issue({ subject: values.subject, role }, { ttlSeconds: Number(values.ttl) }),
    );
  } finally {
    await nc.close();
  }
}

/**
 * The cloud program's configuration: its environment, validated with zod, the only reader of it.
 * A bad value is refused at start with every bad variable listed. {@link cloudServiceOptions}
 * turns it into {@link startCloudService}'s options; the service itself reads no environment, so
 * a test that starts one passes what it wants and never picks up a developer's `VEND_STRIPE_KEY`.
 *
 * | variable                      | meaning                                                        |
 * | ----------------------------- | -------------------------------------------------------------- |
 * | `NATS_URL`                    | servers (comma-separated); unset: the program runs a local one |
 * | `NATS_CREDS`, `NATS_CA`       | the cloud's credentials file, the CA of the servers' TLS       |
 * | `VEND_NATS_AUTH_DIR`          | the accounts' keys, to provision devices on a server not run   |
 * | `VEND_REGION`                 | region this instance serves (default `local`)                  |
 * | `VEND_PRIMARY_REGION`         | in a supercluster: the region of the global buckets' originals |
 * | `VEND_REPLICAS`               | replicas of each stream and bucket there (1-5, default 3)      |
 * | `VEND_API_PORT`               | preferred HTTP port (default 0: any free one)                  |
 * | `VEND_TLS_CERT`, `VEND_TLS_KEY` | serve HTTPS with this certificate and key (both or neither)  |
 * | `VEND_OFFLINE_AFTER_MS`       | a device silent this long is offline (default 60,000)          |
 * | `VEND_PUBLIC_URL`             | the API's address as customers reach it (links, QR codes)      |
 * | `VEND_STRIPE_KEY`             | pay through Stripe with this secret key (else the sandbox)     |
 * | `VEND_STRIPE_URL`             | Stripe's API address (a test double's, say)                    |
 * | `VEND_STRIPE_PUBLISHABLE_KEY` | Stripe Elements in the customer app                            |
 * | `VEND_STRIPE_WEBHOOK_SECRET`  | verifies Stripe's webhook (the route is served only with one)  |
 * | `VEND_SANDBOX_FAULTS`         | faults of the sandbox provider, `OPERATION:KIND[*TIMES],...`   |
 * | `VEND_SMTP_URL`               | sends customers' one-time codes by mail (else: logged)         |
 * | `VEND_REVIEW_ALERT_RATE`      | a machine's review rate (0..1, 24 h) that raises an alert (0.1) |
 * | `VEND_CLIP_RETENTION_DAYS`    | sessions' clips are deleted after this many days (30)          |
 * | `VEND_HELD_CLIP_RETENTION_DAYS` | ... unless a review or dispute holds them: then (365)        |
 * | `VEND_FAULT`                  | tests: `payments:after_CALL` kills the program after that call |
 *
 * @example
 * ```ts
 * import { cloudServiceOptions, loadCloudConfig } from "./cloud_config.ts";
 *
 * const config = loadCloudConfig({ VEND_REGION: "eu-west", VEND_API_PORT: "8080" });
 * const options = cloudServiceOptions(config); // { region: "eu-west", port: 8080, ... }
 * ```
 *
 * @module
 */
import { z } from "zod";
import { SmtpCodeSender } from "./auth/mod.ts";
import type { CloudServiceOptions } from "./cloud_service.ts";

const region = z.string().regex(/^[a-z0-9][a-z0-9-]{0,30}$/, "must be 1-31 of a-z, 0-9 and '-'");
const integer = (min: number, max: number) =>
  z.string().regex(/^\d+$/, "must be a whole number").transform(Number).pipe(
    z.int().min(min).max(max),
  );
const url = (protocols: readonly string[]) =>
  z.url({ protocol: new RegExp(`^(${protocols.join("|")})$`) });
const file = z.string().min(1, "must be a path");
const natsUrls = z.string().refine(
  (v) => v.split(",").every((s) => /^(nats|tls|ws|wss):\/\/[^\s/]+\/?$/.test(s.trim())),
  "must be URLs like nats://host:4222, comma-separated",
);

/** The environment the cloud program reads, by variable. */
export const CloudEnvSchema = z.object({
  NATS_URL: natsUrls.optional(),
  NATS_CREDS: file.optional(),
  NATS_CA: file.optional(),
  VEND_NATS_AUTH_DIR: file.optional(),
  VEND_REGION: region.default("local"),
  VEND_PRIMARY_REGION: region.optional(),
  VEND_REPLICAS: integer(1, 5).default(3),
  VEND_API_PORT: integer(0, 65_535).default(0),
  VEND_TLS_CERT: file.optional(),
  VEND_TLS_KEY: file.optional(),
  VEND_OFFLINE_AFTER_MS: integer(1000, 86_400_000).default(60_000),
  VEND_PUBLIC_URL: url(["http", "https"]).optional(),
  VEND_STRIPE_KEY: z.string().regex(/^(sk|rk)_\w+$/, "must be a Stripe secret key (sk_...)")
    .optional(),
  VEND_STRIPE_URL: url(["http", "https"]).optional(),
  VEND_STRIPE_PUBLISHABLE_KEY: z.string().regex(/^pk_\w+$/, "must be a publishable key (pk_...)")
    .optional(),
  VEND_STRIPE_WEBHOOK_SECRET: z.string().min(1).optional(),
  VEND_SANDBOX_FAULTS: z.string().optional(),
  VEND_SMTP_URL: url(["smtp", "smtps"]).optional(),
  VEND_REVIEW_ALERT_RATE: z.coerce.number().min(0).max(1).optional(),
  VEND_CLIP_RETENTION_DAYS: z.coerce.number().positive().max(36_500).default(30),
  VEND_HELD_CLIP_RETENTION_DAYS: z.coerce.number().positive().max(36_500).default(365),
  VEND_FAULT: z.string().regex(
    /^payments:after_(authorize|capture|cancel|refund)$/,
    "expected payments:after_authorize, _capture, _cancel or _refund",
  ).optional(),
}).refine((e) => (e.VEND_TLS_CERT === undefined) === (e.VEND_TLS_KEY === undefined), {
  message: "VEND_TLS_CERT and VEND_TLS_KEY go together",
  path: ["VEND_TLS_KEY"],
});

/** Variables whose values are never repeated in an error (keys, passwords in URLs). */
const SECRET = new Set([
  "VEND_STRIPE_KEY",
  "VEND_STRIPE_WEBHOOK_SECRET",
  "VEND_SMTP_URL",
  "VEND_STRIPE_URL",
]);

/** The cloud program's configuration, as {@link loadCloudConfig} read it. */
export type CloudConfig = z.output<typeof CloudEnvSchema>;

/** A configuration that cannot be used: every bad variable, one line each. */
export class CloudConfigError extends Error {
  /** One line per bad variable: `NAME: reason`. */
  readonly problems: readonly string[];

  /** Creates the error from its problem lines. */
  constructor(problems: readonly string[], options?: ErrorOptions) {
    super(`Invalid cloud configuration:\n  ${problems.join("\n  ")}`, options);
    this.name = "CloudConfigError";
    this.problems = problems;
  }
}

/**
 * Reads and validates the configuration from `env` (the program passes `Deno.env.toObject()`);
 * an empty value counts as unset. Throws {@link CloudConfigError} naming every bad variable.
 */
export function loadCloudConfig(env: Readonly<Record<string, string | undefined>>): CloudConfig {
  if (env === null || typeof env !== "object") {
    throw new TypeError("loadCloudConfig takes the environment as an object of strings");
  }
  const known = Object.keys(CloudEnvSchema.shape) as (keyof CloudConfig)[];
  const picked: Record<string, string> = {};
  for (const name of known) {
    const value = env[name];
    if (value !== undefined && value !== "") picked[name] = value;
  }
  const parsed = CloudEnvSchema.safeParse(picked);
  if (!parsed.success) {
    throw new CloudConfigError(
      parsed.error.issues.map((i) => {
        const name = String(i.path[0] ?? "environment");
        // The value is repeated unless it may hold a secret.
        const got = name in picked && !SECRET.has(name)
          ? `, got ${JSON.stringify(picked[name])}`
          : "";
        return `${name}: ${i.message}${got}`;
      }),
      { cause: parsed.error },
    );
  }
  return parsed.data;
}

/** The {@link startCloudService} options `config` asks for (the caller adds its own). */
export function cloudServiceOptions(config: CloudConfig): CloudServiceOptions {
  return {
    region: config.VEND_REGION,
    port: config.VEND_API_PORT,
    offlineAfterMs: config.VEND_OFFLINE_AFTER_MS,
    ...(config.VEND_PRIMARY_REGION
      ? { supercluster: { primary: config.VEND_PRIMARY_REGION, replicas: config.VEND_REPLICAS } }
      : {}),
    ...(config.VEND_TLS_CERT && config.VEND_TLS_KEY
      ? { tls: { certFile: config.VEND_TLS_CERT, keyFile: config.VEND_TLS_KEY } }
      : {}),
    ...(config.VEND_PUBLIC_URL ? { publicUrl: config.VEND_PUBLIC_URL } : {}),
    payments: {
      ...(config.VEND_STRIPE_KEY
        ? {
          stripe: {
            secretKey: config.VEND_STRIPE_KEY,
            ...(config.VEND_STRIPE_URL ? { baseUrl: config.VEND_STRIPE_URL } : {}),
          },
        }
        : {}),
      ...(config.VEND_STRIPE_PUBLISHABLE_KEY
        ? { stripePublishableKey: config.VEND_STRIPE_PUBLISHABLE_KEY }
        : {}),
      ...(config.VEND_STRIPE_WEBHOOK_SECRET
        ? { stripeWebhookSecret: config.VEND_STRIPE_WEBHOOK_SECRET }
        : {}),
      ...(config.VEND_SANDBOX_FAULTS ? { sandboxFaults: config.VEND_SANDBOX_FAULTS } : {}),
      ...(config.VEND_SMTP_URL ? { codeSender: new SmtpCodeSender(config.VEND_SMTP_URL) } : {}),
      ...(config.VEND_REVIEW_ALERT_RATE !== undefined
        ? { reviewRateAlert: { threshold: config.VEND_REVIEW_ALERT_RATE } }
        : {}),
      clipRetention: {
        days: config.VEND_CLIP_RETENTION_DAYS,
        heldDays: config.VEND_HELD_CLIP_RETENTION_DAYS,
      },
    },
  };
}

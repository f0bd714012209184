import assert from "node:assert/strict";
import { SmtpCodeSender } from "./auth/mod.ts";
import { CloudConfigError, cloudServiceOptions, loadCloudConfig } from "./cloud_config.ts";

Deno.test("loadCloudConfig gives the defaults for an empty environment, and ignores other variables", () => {
  const config = loadCloudConfig({ HOME: "/root", VEND_REGION: "" });
  assert.equal(config.VEND_REGION, "local");
  assert.equal(config.VEND_API_PORT, 0);
  assert.equal(config.VEND_OFFLINE_AFTER_MS, 60_000);
  assert.equal("HOME" in config, false);
  assert.deepEqual(cloudServiceOptions(config), {
    region: "local",
    port: 0,
    offlineAfterMs: 60_000,
    payments: { clipRetention: { days: 30, heldDays: 365 } },
  });
});

Deno.test("cloudServiceOptions maps every variable to the service's options", () => {
  const options = cloudServiceOptions(loadCloudConfig({
    VEND_REGION: "eu-west",
    VEND_PRIMARY_REGION: "eu-west",
    VEND_REPLICAS: "5",
    VEND_API_PORT: "8443",
    VEND_TLS_CERT: "/etc/vend/api.pem",
    VEND_TLS_KEY: "/etc/vend/api.key",
    VEND_OFFLINE_AFTER_MS: "30000",
    VEND_PUBLIC_URL: "https://vend.example.com",
    VEND_STRIPE_KEY: "sk_test_123",
    VEND_STRIPE_URL: "http://127.0.0.1:12111",
    VEND_STRIPE_PUBLISHABLE_KEY: "pk_test_123",
    VEND_STRIPE_WEBHOOK_SECRET: "whsec_1",
    VEND_SANDBOX_FAULTS: "authorize:decline",
    VEND_SMTP_URL: "smtp://mail.example.com:587?from=vend@example.com",
    VEND_REVIEW_ALERT_RATE: "0.05",
    VEND_CLIP_RETENTION_DAYS: "7",
    VEND_HELD_CLIP_RETENTION_DAYS: "90",
  }));
  assert.equal(options.region, "eu-west");
  assert.equal(options.port, 8443);
  assert.equal(options.offlineAfterMs, 30_000);
  assert.deepEqual(options.supercluster, { primary: "eu-west", replicas: 5 });
  assert.deepEqual(options.tls, { certFile: "/etc/vend/api.pem", keyFile: "/etc/vend/api.key" });
  assert.equal(options.publicUrl, "https://vend.example.com");
  assert.deepEqual(options.payments?.stripe, {
    secretKey: "sk_test_123",
    baseUrl: "http://127.0.0.1:12111",
  });
  assert.equal(options.payments?.stripePublishableKey, "pk_test_123");
  assert.equal(options.payments?.stripeWebhookSecret, "whsec_1");
  assert.equal(options.payments?.sandboxFaults, "authorize:decline");
  assert.ok(options.payments?.codeSender instanceof SmtpCodeSender);
  assert.deepEqual(options.payments?.reviewRateAlert, { threshold: 0.05 });
  assert.deepEqual(options.payments?.clipRetention, { days: 7, heldDays: 90 });
});

Deno.test("loadCloudConfig names every bad variable, without repeating a secret", () => {
  assert.throws(
    () =>
      loadCloudConfig({
        VEND_API_PORT: "99999",
        VEND_REGION: "EU West",
        VEND_TLS_CERT: "/etc/vend/api.pem",
        VEND_FAULT: "payments:after_lunch",
        VEND_STRIPE_KEY: "4242424242424242",
        VEND_REVIEW_ALERT_RATE: "1.5",
        VEND_CLIP_RETENTION_DAYS: "0",
        NATS_URL: "http://127.0.0.1:4222",
      }),
    (e) => {
      assert.ok(e instanceof CloudConfigError);
      const names = e.problems.map((p) => p.split(":")[0]).sort();
      assert.deepEqual(names, [
        "NATS_URL",
        "VEND_API_PORT",
        "VEND_CLIP_RETENTION_DAYS",
        "VEND_FAULT",
        "VEND_REGION",
        "VEND_REVIEW_ALERT_RATE",
        "VEND_STRIPE_KEY",
        "VEND_TLS_KEY",
      ]);
      assert.match(e.message, /VEND_FAULT: .*got "payments:after_lunch"/);
      assert.match(e.message, /VEND_API_PORT: .*got "99999"/);
      assert.equal(e.message.includes("4242424242424242"), false, "a secret was repeated");
      return true;
    },
  );
});

Deno.test("loadCloudConfig refuses what is not an environment", () => {
  assert.throws(() => loadCloudConfig(null as unknown as Record<string, string>), TypeError);
});

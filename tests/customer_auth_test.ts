/** Customers' one-time codes and sessions on a real nats-server, with a clock. */
import assert from "node:assert/strict";
import {
  CodeDeliveryError,
  CodeThrottledError,
  CustomerAuth,
  CustomerAuthError,
  InvalidCodeError,
  normalizeContact,
} from "../cloud/auth/mod.ts";
import { fixedPrices, KvSandboxStore, PaymentService } from "../cloud/checkout/mod.ts";
import { ensureStreams } from "../cloud/nats/mod.ts";
import { DEFAULT_CATALOGUE } from "../models/mod.ts";
import { priceList, SandboxProvider } from "../payments/mod.ts";
import { startTestNats } from "./harness.ts";

async function fixture(failSends = 0) {
  const nats = await startTestNats();
  const nc = await nats.connect();
  await ensureStreams(nc, "local");
  const payments = await PaymentService.open(nc, {
    region: "local",
    provider: new SandboxProvider(await KvSandboxStore.open(nc)),
    prices: fixedPrices(priceList(DEFAULT_CATALOGUE)),
    unlocker: { unlock: () => Promise.reject(new Error("no machines here")) },
  });
  const sent: Array<{ to: string; code: string }> = [];
  let now = 1_800_000_000_000;
  const auth = await CustomerAuth.open(nc, {
    payments,
    sender: {
      send: (to, m) => {
        if (failSends-- > 0) return Promise.reject(new Error("550 mailbox unavailable"));
        sent.push({ to, code: m.code });
        return Promise.resolve();
      },
    },
    now: () => now,
  });
  return {
    auth,
    payments,
    sent,
    tick: (ms: number) => void (now += ms),
    [Symbol.asyncDispose]: () => nats[Symbol.asyncDispose](),
  };
}

Deno.test("normalizeContact takes emails and phone numbers and names anything else", () => {
  assert.equal(normalizeContact(" Ada@Example.COM "), "ada@example.com");
  assert.equal(normalizeContact("+34 600-111 222"), "+34600111222");
  for (const bad of ["ada", "600111222", "+0 600", ""]) {
    assert.throws(() => normalizeContact(bad), TypeError, bad);
  }
});

Deno.test("CustomerAuth: a code signs up once, a second sign-in finds the same customer, and sign-out everywhere ends both sessions", async () => {
  await using f = await fixture();
  await f.auth.requestCode("ada@example.com");
  const first = await f.auth.verifyCode("ADA@example.com", f.sent[0]!.code);
  assert.equal(first.created, true);
  assert.equal(first.customer.email, "ada@example.com");
  // The code works once.
  await assert.rejects(f.auth.verifyCode("ada@example.com", f.sent[0]!.code), InvalidCodeError);
  f.tick(31_000);
  await f.auth.requestCode("ada@example.com");
  const second = await f.auth.verifyCode("ada@example.com", f.sent[1]!.code);
  assert.equal(second.created, false);
  assert.equal(second.customer.customerId, first.customer.customerId);
  assert.equal((await f.auth.verify(first.token)).customerId, first.customer.customerId);
  await f.auth.signOutEverywhere(first.customer.customerId);
  await assert.rejects(f.auth.verify(first.token), /signed out everywhere/);
  await assert.rejects(f.auth.verify(second.token), CustomerAuthError);
  await assert.rejects(f.auth.verify("forged.token.value"), CustomerAuthError);
  // A phone number signs up its own customer.
  await f.auth.requestCode("+34 600 111 222");
  const phone = await f.auth.verifyCode("+34600111222", f.sent[2]!.code);
  assert.deepEqual([phone.created, phone.customer.phone, phone.customer.email], [
    true,
    "+34600111222",
    null,
  ]);
});

Deno.test("CustomerAuth: wrong codes count down to a lock, codes expire, and codes cannot be asked too often", async () => {
  await using f = await fixture();
  await f.auth.requestCode("bob@example.com");
  await assert.rejects(f.auth.requestCode("bob@example.com"), CodeThrottledError);
  const right = f.sent[0]!.code;
  const wrong = right === "000000" ? "111111" : "000000";
  for (let left = 4; left >= 1; left--) {
    await assert.rejects(
      f.auth.verifyCode("bob@example.com", wrong),
      (e) => e instanceof InvalidCodeError && e.attemptsLeft === left,
    );
  }
  // The fifth wrong code locks the contact: even the right code is refused now.
  await assert.rejects(f.auth.verifyCode("bob@example.com", wrong), CodeThrottledError);
  await assert.rejects(f.auth.verifyCode("bob@example.com", right), CodeThrottledError);
  await assert.rejects(f.auth.requestCode("bob@example.com"), CodeThrottledError);
  assert.equal(f.sent.length, 1, "no code sent while locked");
  f.tick(15 * 60_000 + 1);
  await f.auth.requestCode("bob@example.com");
  assert.equal(f.sent.length, 2);
  // A code older than 10 minutes has expired.
  f.tick(10 * 60_000 + 1);
  await assert.rejects(
    f.auth.verifyCode("bob@example.com", f.sent[1]!.code),
    (e) => e instanceof InvalidCodeError && /expired/.test(e.message),
  );
  assert.equal((await f.payments.sessions()).length, 0);
});

Deno.test("CustomerAuth: a code that could not be delivered does not stand, and may be asked again at once", async () => {
  await using f = await fixture(1);
  await assert.rejects(
    f.auth.requestCode("carol@example.com"),
    (e) => e instanceof CodeDeliveryError && e.cause instanceof Error,
  );
  await assert.rejects(f.auth.verifyCode("carol@example.com", "123456"), /No code was sent/);
  await f.auth.requestCode("carol@example.com");
  assert.equal(f.sent.length, 1);
  assert.equal((await f.auth.verifyCode("carol@example.com", f.sent[0]!.code)).created, true);
});

/**
 * The subject builders read backwards: the named parts of the subject a message arrived on (which
 * region, device, session or batch it is about), so that no receiver counts dots itself.
 *
 * They check the subject's shape (root, kind of subject, number of tokens) and throw when it is not
 * the one asked for: a TypeError for a subject that is not a string, a RangeError naming the token
 * that does not fit. They do not check how a token is spelled (an upper-case device id is returned
 * as is): a receiver subscribed through `filters` only gets subjects of the right shape, and
 * decides itself what to do with a sender it does not know. (Unlike the `parse*` functions of the
 * message families, these throw: a subject of the wrong shape is a caller's mistake, not bad input
 * from the wire.)
 *
 * @example
 * ```ts
 * import { deviceSubjectParts, paymentSubjectParts } from "./subject_parts.ts";
 *
 * deviceSubjectParts("vs.eu-west.dev.m001-a.cmd.unlock");
 * // { region: "eu-west", deviceId: "m001-a", kind: "cmd", detail: "unlock" }
 * paymentSubjectParts("vs.eu-west.pay.sess-00000001.captured");
 * // { region: "eu-west", sessionId: "sess-00000001", type: "captured" }
 * ```
 *
 * @module
 */
import { SUBJECT_ROOT } from "./subjects.ts";

/** The parts of a device subject, `vs.<region>.dev.<deviceId>.<kind>[.<detail>]`. */
export interface DeviceSubjectParts {
  /** Region the subject was published in, e.g. `"eu-west"`. */
  readonly region: string;
  /** Device the subject is about, e.g. `"m001-a"`. */
  readonly deviceId: string;
  /** What it carries: the token after the device id, e.g. `"hb"`, `"cmd"`, `"evt"`, `"obj"`. */
  readonly kind: string;
  /** The tokens after `kind`, joined by dots (a command's name, `"commit"`...); `""` when none. */
  readonly detail: string;
}

/** The parts of a payment subject, `vs.<region>.pay.<sessionId>.<type>`. */
export interface PaymentSubjectParts {
  /** Region that owns the session. */
  readonly region: string;
  /** Payment session id. */
  readonly sessionId: string;
  /** Payment event type, e.g. `"captured"`. */
  readonly type: string;
}

/** The parts of a provisioning subject, `vs.provision.<batchId>.<step>`. */
export interface ProvisionSubjectParts {
  /** Provisioning batch the request is for. */
  readonly batchId: string;
  /** Which request: a nonce to sign, or the claim. */
  readonly step: "nonce" | "claim";
}

function tokensOf(what: string, subject: string): string[] {
  if (typeof subject !== "string") {
    throw new TypeError(`Cannot read ${what}: the subject is a ${typeof subject}, not a string`);
  }
  const tokens = subject.split(".");
  tokens.forEach((token, i) => {
    if (token === "" || token === "*" || token === ">" || /\s/.test(token)) {
      throw new RangeError(
        `Cannot read ${what} from ${JSON.stringify(subject)}: token ${i + 1} ${
          JSON.stringify(token)
        } is empty, a wildcard or holds white space`,
      );
    }
  });
  if (tokens[0] !== SUBJECT_ROOT) {
    throw new RangeError(
      `Cannot read ${what} from ${
        JSON.stringify(subject)
      }: it does not start with "${SUBJECT_ROOT}."`,
    );
  }
  return tokens;
}

function expect(what: string, subject: string, ok: boolean, shape: string): void {
  if (!ok) {
    throw new RangeError(`Cannot read ${what} from ${JSON.stringify(subject)}: it is not ${shape}`);
  }
}

/**
 * The region, device id and kind of a device subject (`vs.<region>.dev.<deviceId>.<kind>...`),
 * e.g. of a heartbeat, a command or an object commit.
 */
export function deviceSubjectParts(subject: string): DeviceSubjectParts {
  const what = "a device subject";
  const t = tokensOf(what, subject);
  expect(what, subject, t.length >= 5 && t[2] === "dev", "vs.<region>.dev.<deviceId>.<kind>...");
  return { region: t[1]!, deviceId: t[3]!, kind: t[4]!, detail: t.slice(5).join(".") };
}

/** The region, session id and event type of a payment subject (`vs.<region>.pay.<id>.<type>`). */
export function paymentSubjectParts(subject: string): PaymentSubjectParts {
  const what = "a payment subject";
  const t = tokensOf(what, subject);
  expect(what, subject, t.length === 5 && t[2] === "pay", "vs.<region>.pay.<sessionId>.<type>");
  return { region: t[1]!, sessionId: t[3]!, type: t[4]! };
}

/** The batch id and step of a provisioning subject (`vs.provision.<batchId>.nonce|claim`). */
export function provisionSubjectParts(subject: string): ProvisionSubjectParts {
  const what = "a provisioning subject";
  const t = tokensOf(what, subject);
  const step = t[3];
  expect(
    what,
    subject,
    t.length === 4 && t[1] === "provision" && (step === "nonce" || step === "claim"),
    "vs.provision.<batchId>.nonce|claim",
  );
  return { batchId: t[2]!, step: step as "nonce" | "claim" };
}

/**
 * Operator API tokens: JWTs (HS256, via jose) with a role: `viewer` reads, `operator` also
 * controls devices (commands, desired state), `admin` also changes the registry and issues
 * tokens. The signing key is created once in the `service` bucket and shared by all instances.
 *
 * @module
 */
import { jwtVerify, SignJWT } from "jose";
import type { KV } from "@nats-io/kv";
import { isRevisionConflict } from "../fleet/mod.ts";

/** Operator roles, in increasing power. */
export const ROLES = ["viewer", "operator", "admin"] as const;
/** An operator role. */
export type Role = typeof ROLES[number];

/** Who makes a request. */
export interface Actor {
  /** Token subject (operator id). */
  readonly subject: string;
  /** Role. */
  readonly role: Role;
}

/** A token was missing, forged, expired or otherwise unusable. */
export class AuthError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AuthError";
  }
}

/** Whether `actor` may act with `needed` rights. */
export function allows(actor: Actor, needed: Role): boolean {
  return ROLES.indexOf(actor.role) >= ROLES.indexOf(needed);
}

const ISSUER = "vendstream-cloud";
const AUDIENCE = "vendstream-api";

/** Issues and verifies tokens with the fleet's shared key. */
export class TokenService {
  readonly #key: Uint8Array;

  private constructor(key: Uint8Array) {
    this.#key = key;
  }

  /** Loads the signing key from the service bucket, creating it on first use. */
  static async open(service: KV): Promise<TokenService> {
    const existing = await service.get("jwt.key");
    if (existing?.value.length) return new TokenService(existing.value);
    const key = crypto.getRandomValues(new Uint8Array(32));
    try {
      await service.create("jwt.key", key);
      return new TokenService(key);
    } catch (e) {
      if (!isRevisionConflict(e)) throw e;
      const raced = await service.get("jwt.key"); // another instance created it first
      if (!raced?.value.length) throw new Error("Cannot create or read the token signing key");
      return new TokenService(raced.value);
    }
  }

  /** A token for `actor`, valid `ttlSeconds` (default 12 h). */
  issue(actor: Actor, options: { ttlSeconds?: number } = {}): Promise<string> {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$/.test(actor.subject)) {
      throw new TypeError(`Invalid token subject ${JSON.stringify(actor.subject)}`);
    }
    if (!ROLES.includes(actor.role)) {
      throw new TypeError(`Invalid role ${JSON.stringify(actor.role)}`);
    }
    return new SignJWT({ role: actor.role })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(actor.subject)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${options.ttlSeconds ?? 43_200}s`)
      .sign(this.#key);
  }

  /** The actor of a valid token; throws {@link AuthError} otherwise. */
  async verify(token: string): Promise<Actor> {
    try {
      const { payload } = await jwtVerify(token, this.#key, {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ["HS256"],
      });
      const role = payload.role;
      if (typeof payload.sub !== "string" || !ROLES.includes(role as Role)) {
        throw new Error("token lacks a subject or a known role");
      }
      return { subject: payload.sub, role: role as Role };
    } catch (cause) {
      throw new AuthError(`Invalid token: ${(cause as Error).message}`, { cause });
    }
  }
}

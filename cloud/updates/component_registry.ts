/**
 * The component registry: publishes component versions (recipe + artifacts) and keeps them in
 * NATS. Artifacts are cut into content-defined chunks stored once each in the `artifacts`
 * object store under their SHA-256 (so versions share what they have in common); the version
 * manifest listing them is signed with the registry's active Ed25519 key and written last, with
 * a create that refuses an existing version, so a failed publish leaves no version behind
 * (only chunks, which are content-addressed and harmless). Signing keys live in the `service`
 * KV bucket as JWKs; `rotateKey` adds a new active key while the old ones stay trusted until
 * retired.
 *
 * @example
 * ```ts
 * import { connect } from "@nats-io/transport-node";
 * import { ComponentRegistry } from "./component_registry.ts";
 *
 * const nc = await connect({ servers: "127.0.0.1:4222" });
 * const registry = await ComponentRegistry.open(nc);
 * const signed = await registry.publish(
 *   { component: "labels", version: "1.0.0", kind: "config", platform: { arch: ["x86_64"] } },
 *   [{ name: "labels.json", data: new TextEncoder().encode("[]") }],
 * );
 * console.log(signed.keyId, await registry.trustedKeys());
 * ```
 *
 * @module
 */
import { openKv, openObjectStore } from "../nats/mod.ts";
import { createHash } from "node:crypto";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import type { ObjectStore } from "@nats-io/obj";
import {
  type ArtifactManifest,
  bestVersion,
  buckets,
  componentKey,
  type ComponentRecipe,
  componentRecipe,
  dependencyCycle,
  generateSigningKey,
  importSigningKey,
  type SignedManifest,
  signedManifest,
  signManifest,
  type TrustedKey,
  versionManifest,
} from "../../protocol/mod.ts";
import { contentChunks } from "./content_chunker.ts";
import { isRevisionConflict } from "../fleet/mod.ts";
import { compareAndSwap, type Logger } from "../../runtime/mod.ts";
import { sha256Hex } from "../../protocol/mod.ts";

const UPLOAD_TTL_MS = 24 * 3_600_000;
const nanos = (ms: number) => ms * 1_000_000;

function uploadKey(t: { component: string; version: string; name: string }): string {
  return `${t.component}@${t.version}/${t.name}`;
}

/** A publish was refused; `field` names what is wrong (for a problem+json answer). */
export class ComponentError extends Error {
  /** The offending field, e.g. `dependencies.agent`. */
  readonly field: string;
  /** Creates the error. */
  constructor(field: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ComponentError";
    this.field = field;
  }
}

interface StoredKey {
  keyId: string;
  jwk: JsonWebKey;
  publicKey: string;
  createdAt: number;
  retiredAt: number | null;
}

interface KeyRing {
  active: string;
  keys: StoredKey[];
}

const KEYRING = "ota.signing_keys";

/** Publishes and reads component versions. */
export class ComponentRegistry {
  readonly #components: KV;
  readonly #service: KV;
  readonly #artifacts: ObjectStore;

  readonly #uploads: ObjectStore;
  readonly #logger: Logger | undefined;

  private constructor(
    components: KV,
    service: KV,
    artifacts: ObjectStore,
    uploads: ObjectStore,
    logger: Logger | undefined,
  ) {
    this.#components = components;
    this.#service = service;
    this.#artifacts = artifacts;
    this.#uploads = uploads;
    this.#logger = logger;
  }

  /**
   * Opens (creating if needed) the registry's buckets; `logger` is told of uploads that could
   * not be removed.
   */
  static async open(
    nc: NatsConnection,
    options: { readonly logger?: Logger } = {},
  ): Promise<ComponentRegistry> {
    const components = await openKv(nc, buckets.components, { history: 1 });
    const service = await openKv(nc, buckets.service, { history: 5 });
    const artifacts = await openObjectStore(nc, buckets.artifacts);
    // Abandoned uploads go after a day.
    const uploads = await openObjectStore(nc, buckets.uploads, { ttl: nanos(UPLOAD_TTL_MS) });
    return new ComponentRegistry(components, service, artifacts, uploads, options.logger);
  }

  /**
   * Stages an artifact for a version about to be published, streamed into the `uploads` object
   * store (a large firmware never sits whole in memory here). Refused with RangeError past
   * `maxBytes` (nothing is kept then).
   */
  async upload(
    target: { component: string; version: string; name: string },
    data: ReadableStream<Uint8Array>,
    options: { maxBytes: number },
  ): Promise<{ bytes: number; sha256: string }> {
    const key = uploadKey(target);
    const hash = createHash("sha256");
    let bytes = 0;
    const counted = data.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, c) {
          bytes += chunk.length;
          if (bytes > options.maxBytes) {
            throw new RangeError(
              `Artifact "${target.name}" is larger than ${options.maxBytes} bytes`,
            );
          }
          hash.update(chunk);
          c.enqueue(chunk);
        },
      }),
    );
    await this.#uploads.put({ name: key }, counted);
    return { bytes, sha256: hash.digest("hex") };
  }

  /** An uploaded artifact's bytes, or undefined when there is no such upload. */
  async uploaded(
    target: { component: string; version: string; name: string },
  ): Promise<Uint8Array | undefined> {
    return (await this.#uploads.getBlob(uploadKey(target))) ?? undefined;
  }

  /**
   * Removes an uploaded artifact (none is fine). One that cannot be removed is logged, not
   * thrown: the bucket's TTL removes it within a day.
   */
  async dropUpload(target: { component: string; version: string; name: string }): Promise<void> {
    await this.#uploads.delete(uploadKey(target)).catch((e) =>
      this.#logger?.log("warn", "an upload could not be removed; its TTL will", {
        component: target.component,
        version: target.version,
        name: target.name,
        error: String(e),
      })
    );
  }

  /** The public keys devices should pin (every key not retired). */
  async trustedKeys(): Promise<TrustedKey[]> {
    const ring = await this.#ring();
    return ring.keys.filter((k) => k.retiredAt === null).map((k) => ({
      keyId: k.keyId,
      publicKey: k.publicKey,
    }));
  }

  /** Makes a new key the active signer; the previous ones stay trusted until retired. */
  async rotateKey(): Promise<TrustedKey> {
    const key = await generateSigningKey();
    await this.#updateRing((ring) => ({
      active: key.keyId,
      keys: [...ring.keys, {
        keyId: key.keyId,
        jwk: key.privateJwk,
        publicKey: key.trusted.publicKey,
        createdAt: Date.now(),
        retiredAt: null,
      }],
    }));
    return key.trusted;
  }

  /** Stops trusting a key (it must not be the active one). */
  async retireKey(keyId: string): Promise<void> {
    await this.#updateRing((ring) => {
      if (ring.active === keyId) {
        throw new ComponentError("keyId", `Cannot retire key "${keyId}": it is the active signer`);
      }
      const k = ring.keys.find((x) => x.keyId === keyId);
      if (!k) throw new ComponentError("keyId", `Cannot retire key "${keyId}": no such key`);
      k.retiredAt = Date.now();
      return ring;
    });
  }

  /** The signed manifest of a version, or undefined. */
  async get(component: string, version: string): Promise<SignedManifest | undefined> {
    const e = await this.#components.get(componentKey(component, version));
    if (!e || e.operation !== "PUT") return undefined;
    const parsed = signedManifest.parse(e.value);
    if (!parsed.ok) throw parsed.error;
    return parsed.value;
  }

  /** The published versions of a component. */
  async versions(component: string): Promise<string[]> {
    const out: string[] = [];
    const keys = await this.#components.keys(`${component}.>`);
    for await (const k of keys) out.push(k.slice(component.length + 1));
    return out;
  }

  /** The recipe of the newest version of `component` within `range`, if any. */
  async resolve(component: string, range: string): Promise<ComponentRecipe | undefined> {
    const v = bestVersion(await this.versions(component), range);
    if (!v) return undefined;
    const signed = await this.get(component, v);
    const m = signed && versionManifest.parse(signed.manifest);
    return m?.ok ? m.value.recipe : undefined;
  }

  /**
   * Publishes a version: checks the recipe and its dependencies (each must be satisfiable by a
   * published version, without a cycle), stores the artifacts' chunks, signs and writes the
   * manifest. Throws {@link ComponentError} naming the field at fault; nothing is published
   * then.
   */
  async publish(
    recipe: unknown,
    artifacts: readonly { name: string; data: Uint8Array }[],
  ): Promise<SignedManifest> {
    const parsed = componentRecipe.parse(JSON.stringify(recipe));
    if (!parsed.ok) {
      throw new ComponentError(parsed.error.field ?? "recipe", parsed.error.message, {
        cause: parsed.error,
      });
    }
    const r = parsed.value;
    if (artifacts.length === 0) {
      throw new ComponentError("artifacts", "A version needs at least one artifact");
    }
    const names = new Set<string>();
    for (const [i, a] of artifacts.entries()) {
      if (names.has(a.name)) {
        throw new ComponentError(`artifacts[${i}].name`, `Artifact "${a.name}" is given twice`);
      }
      names.add(a.name);
    }
    if (await this.get(r.component, r.version)) {
      throw new ComponentError("version", `${r.component} ${r.version} is already published`);
    }
    // Every version the new one would pull in, transitively (newest within each range): a cycle
    // can close anywhere down the chain.
    const recipes = new Map<string, ComponentRecipe>();
    const pending = Object.entries(r.dependencies).map(([dep, range]) => ({
      dep,
      range,
      direct: true,
    }));
    for (let next = pending.shift(); next; next = pending.shift()) {
      if (next.dep === r.component || recipes.has(next.dep)) continue;
      const found = await this.resolve(next.dep, next.range);
      if (!found) {
        if (!next.direct) continue; // an older version's own dependency gone: not this publish's fault
        throw new ComponentError(
          `dependencies.${next.dep}`,
          `No published version of "${next.dep}" satisfies ${next.range}`,
        );
      }
      recipes.set(next.dep, found);
      for (const [dep, range] of Object.entries(found.dependencies)) {
        pending.push({ dep, range, direct: false });
      }
    }
    const cycle = dependencyCycle(r, (c) => recipes.get(c));
    if (cycle) {
      throw new ComponentError("dependencies", `Dependency cycle: ${cycle.join(" -> ")}`);
    }
    const manifests: ArtifactManifest[] = [];
    for (const a of artifacts) manifests.push(await this.#storeArtifact(a.name, a.data));
    const ring = await this.#ring();
    const active = ring.keys.find((k) => k.keyId === ring.active)!;
    const key = await importSigningKey(active.jwk);
    const signed = await signManifest(
      { v: 1, recipe: r, artifacts: manifests, createdAt: Date.now() },
      key,
    );
    try {
      await this.#components.create(
        componentKey(r.component, r.version),
        signedManifest.encode(signed),
      );
    } catch (cause) {
      // Only "exists" is "already published"; a write that failed otherwise propagates.
      if (!isRevisionConflict(cause)) throw cause;
      throw new ComponentError("version", `${r.component} ${r.version} is already published`, {
        cause,
      });
    }
    return signed;
  }

  async #storeArtifact(name: string, data: Uint8Array): Promise<ArtifactManifest> {
    const chunks = [];
    for (const span of contentChunks(data)) {
      const bytes = data.subarray(span.offset, span.offset + span.bytes);
      const sha256 = await sha256Hex(bytes);
      // Content-addressed: a chunk another version already stored is not sent again.
      if (!(await this.#artifacts.info(sha256))) {
        await this.#artifacts.putBlob({ name: sha256 }, bytes);
      }
      chunks.push({ sha256, bytes: span.bytes });
    }
    return { name, bytes: data.length, sha256: await sha256Hex(data), chunks };
  }

  async #ring(): Promise<KeyRing> {
    const e = await this.#service.get(KEYRING);
    if (e && e.operation === "PUT") return e.json<KeyRing>();
    // No ring yet: make one (it retries over another instance's; anything else propagates).
    await this.rotateKey();
    const again = await this.#service.get(KEYRING);
    return again!.json<KeyRing>();
  }

  /** Read-modify-write of the key ring, safe against another cloud instance doing the same. */
  async #updateRing(change: (ring: KeyRing) => KeyRing): Promise<void> {
    // Another instance changed the ring first: read it again, 5 attempts in all (then
    // CompareAndSwapExhaustedError). Anything else propagates.
    await compareAndSwap<KeyRing>(
      { kv: this.#service, key: KEYRING },
      (ring) => change(ring ?? { active: "", keys: [] }),
      { attempts: 5 },
    );
  }
}

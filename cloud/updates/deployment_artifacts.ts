/**
 * Whether the stream a region's devices read artifacts from (its mirror of the artifacts store,
 * in a supercluster) holds every chunk of a deployment's targets yet: a device is started only
 * then. A deployment seen complete once is not looked at again.
 *
 * @module
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { Base64UrlPaddedCodec } from "@nats-io/obj";
import { buckets, componentKey, objectStreamOf, signedManifest } from "../../protocol/mod.ts";
import type { Deployment } from "./deployment_model.ts";

/** Where the region's devices read artifacts from; without both, the store itself. */
export interface DeploymentArtifactsOptions {
  /** The stream the region's devices read artifacts from. */
  readonly artifactsStream?: string;
  /** Reads that stream. */
  readonly jsm?: JetStreamManager;
}

/** Tells whether the region's artifacts stream holds a deployment's chunks. */
export class DeploymentArtifacts {
  readonly #components: KV;
  readonly #o: DeploymentArtifactsOptions;
  /** Deployments whose artifacts the region's stream was seen to hold. */
  readonly #mirrored = new Set<string>();

  /** Reads the versions' manifests from `components` (the `components` bucket). */
  constructor(components: KV, options: DeploymentArtifactsOptions) {
    this.#components = components;
    this.#o = options;
  }

  /**
   * True when the stream the region's devices read artifacts from holds every chunk of `d`'s
   * targets (a mirror copies them after their publication, and may lag or be cut off).
   */
  async here(d: Deployment): Promise<boolean> {
    const stream = this.#o.artifactsStream;
    const jsm = this.#o.jsm;
    if (!stream || !jsm || stream === objectStreamOf(buckets.artifacts)) return true;
    if (this.#mirrored.has(d.id)) return true;
    for (const t of d.targets) {
      const e = await this.#components.get(componentKey(t.component, t.version));
      const signed = e?.operation === "PUT" ? signedManifest.parse(e.value) : undefined;
      if (!signed?.ok) return false;
      const manifest = JSON.parse(signed.value.manifest) as {
        artifacts?: { chunks?: { sha256: string }[] }[];
      };
      for (const chunk of (manifest.artifacts ?? []).flatMap((a) => a.chunks ?? [])) {
        const meta = `$O.${buckets.artifacts}.M.${Base64UrlPaddedCodec.encode(chunk.sha256)}`;
        // From the stream's leader: a Direct Get may be answered by a replica that is behind.
        const m = await jsm.streams.getMessage(stream, { last_by_subj: meta });
        if (!m) return false;
      }
    }
    this.#mirrored.add(d.id);
    return true;
  }
}

/**
 * A session's clips: what the machine's cabinet uploaded for its door session, found in the
 * `clips` object stores of the region that sold it and of the cabinet's home region.
 *
 * @module
 */
import { openKv, openRegionObjectStore } from "../nats/mod.ts";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { buckets, toHex } from "../../protocol/mod.ts";
import { unlockedDevice } from "./_session_log.ts";

/** A clip of a session's door session, and the region whose store holds it. */
export interface SessionClip {
  readonly name: string;
  /** Hex SHA-256 of the clip (what a dispute attaches). */
  readonly sha256: string;
  readonly region: string;
}

/** The devices whose clips a session may have, and the regions whose stores may hold them. */
export interface SessionCabinet {
  /** The device the session's unlock went to (undefined: none was sent). */
  readonly unlocked: string | undefined;
  /** The device the session's unlock went to and the other devices of its machine. */
  readonly devices: ReadonlySet<string>;
  /** The region that sold the session and the cabinet's home region. */
  readonly regions: ReadonlySet<string>;
}

/**
 * The cabinet of a session sold in `at.region`: only its own devices' clips are its clips (another
 * device could upload a clip named after the session), in the stores of the region that sold it
 * and of its home region (a machine that failed over still uploads at home). No unlock stored:
 * no devices. A read that fails propagates rather than pass for "no clips".
 */
export async function sessionCabinet(
  nc: NatsConnection,
  at: { readonly region: string; readonly sessionId: string },
): Promise<SessionCabinet> {
  const devices = new Set<string>();
  const regions = new Set([at.region]);
  const unlocked = await jetstreamManager(nc).then((jsm) => unlockedDevice(jsm, at));
  if (unlocked !== undefined) {
    devices.add(unlocked);
    const credentials = await openKv(nc, buckets.deviceCredentials, { history: 5 });
    const record = await credentials.get(unlocked);
    if (record?.operation === "PUT") {
      const device = record.json<{ peers?: string[]; region?: string }>();
      for (const peer of device.peers ?? []) devices.add(peer);
      if (device.region) regions.add(device.region);
    }
  }
  return { unlocked, devices, regions };
}

/** Finds and reads sessions' clips (reads only). */
export class SessionClips {
  readonly #nc: NatsConnection;
  readonly #region: string;

  /** Creates the reader for the sessions of `options.region`. */
  constructor(nc: NatsConnection, options: { readonly region: string }) {
    this.#nc = nc;
    this.#region = options.region;
  }

  /**
   * The clips the machine uploaded for a door session (objects
   * `<deviceId>/<sessionId>/<cameraId>-<part>.mp4`), by name, with SHA-256, from the stores of the region
   * that sold it and of its cabinet's home region: a machine that failed over to this region
   * still uploads its clips at home.
   */
  async clips(sessionId: string): Promise<SessionClip[]> {
    const out: SessionClip[] = [];
    const { devices: cabinet, regions } = await sessionCabinet(this.#nc, {
      region: this.#region,
      sessionId,
    });
    for (const region of regions) {
      const store = await openRegionObjectStore(this.#nc, buckets.clips, region);
      if (!store) continue;
      for await (const info of await store.list()) {
        const [device, session_] = info.name.split("/");
        if (session_ !== sessionId || info.deleted || !cabinet.has(device ?? "")) continue;
        const b64 = info.digest.replace(/^SHA-256=/, "").replace(/-/g, "+").replace(/_/g, "/");
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        out.push({
          name: info.name,
          sha256: toHex(bytes),
          region,
        });
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** One of {@link clips}' clips, read from the region that holds it; null if it is not one. */
  async clip(sessionId: string, name: string): Promise<Uint8Array | null> {
    const found = (await this.clips(sessionId)).find((c) => c.name === name);
    if (!found) return null;
    const store = await openRegionObjectStore(this.#nc, buckets.clips, found.region);
    return await store?.getBlob(name) ?? null;
  }
}

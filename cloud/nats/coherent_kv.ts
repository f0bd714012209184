/**
 * Coherent reads of a global bucket through its mirror. In a region that is not the primary, a
 * global bucket (customers, logins, price lists, deployments, credentials...) is read from the
 * region's mirror, which follows the original (in the primary region) a little behind. Read as
 * such, a key written a moment ago can be missing or old. {@link coherentKv} makes every `get`
 * say one of three things, never a wrong "not found":
 *
 * - the entry, at most `boundMs` older than the original's (the mirror is known to have held
 *   everything the original's stream leader held `boundMs` ago), and never older than what was written through
 *   this connection;
 * - no entry: the original's own leader said so;
 * - {@link ReplicaBehindError}: the mirror lacks the key (or holds it older than written here)
 *   and the original cannot be reached (the primary region is down): it cannot know yet.
 *
 * Reads go to stream leaders (the `STREAM.MSG.GET` API), not to Direct Get: any replica, and
 * any mirror of the original, answers a Direct Get, including one that has not applied the
 * latest writes yet (ADR-31 "read-after-write coherency").
 *
 * @example
 * ```ts
 * import { jetstreamManager } from "@nats-io/jetstream";
 * import { Kvm } from "@nats-io/kv";
 * import { coherentKv } from "./coherent_kv.ts";
 * declare const nc: import("@nats-io/nats-core").NatsConnection;
 *
 * const kvm = new Kvm(nc);
 * const kv = coherentKv(
 *   await kvm.open("customers", { streamName: "KV_customers_mirror_us", allow_direct: false }),
 *   {
 *     original: await kvm.open("customers", { allow_direct: false }),
 *     jsm: await jetstreamManager(nc),
 *     mirrorStream: "KV_customers_mirror_us",
 *     originStream: "KV_customers",
 *   },
 * );
 * await kv.get("cus-1"); // the mirror's entry when fresh enough, else the original's
 * ```
 *
 * @module
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import type { KV, KvEntry } from "@nats-io/kv";
import { isTransientNatsError } from "./transient_error.ts";
import { sleep } from "../../runtime/mod.ts";

/** How far behind the original a mirror's answer may be, ms, by default. */
export const DEFAULT_BOUND_MS = 1000;

/** Keys whose last written revision is remembered per bucket (the oldest are forgotten first). */
const REMEMBERED = 10_000;

/** How often a refresh looks at the mirror again while it is behind, ms. */
const REFRESH_POLL_MS = 25;

/** After the original failed to answer, how long reads stop asking it, ms. */
const ORIGIN_DOWN_MS = 2000;

/**
 * A read that cannot be answered yet: the region's mirror lacks the key, or holds it older than
 * a write already acknowledged, and the original (in the primary region) cannot be reached.
 */
export class ReplicaBehindError extends Error {
  /** The bucket read. */
  readonly bucket: string;
  /** The key read. */
  readonly key: string;

  /** `cause`: why the original did not answer. */
  constructor(bucket: string, key: string, options?: ErrorOptions) {
    super(
      `Cannot tell yet whether ${bucket}/${key} exists: this region's copy may be behind and the primary region does not answer`,
      options,
    );
    this.name = "ReplicaBehindError";
    this.bucket = bucket;
    this.key = key;
  }
}

const LATEST = Symbol("latest");

/**
 * Reads `key` as the original has it now (its stream leader), for a read that must not be even
 * a moment behind (a payment method a customer added a moment ago through another instance). On
 * a KV that is not a {@link coherentKv} (one that reads the original itself), its own `get`.
 * Throws {@link ReplicaBehindError} when the original cannot be reached.
 */
export function getLatest(kv: KV, key: string): Promise<KvEntry | null> {
  const latest = (kv as unknown as { [LATEST]?: (key: string) => Promise<KvEntry | null> })[LATEST];
  return latest ? latest(key) : kv.get(key);
}

/**
 * A stream's last sequence, as its leader has it (throws, as a transient NATS error, when it has
 * no leader). A `STREAM.INFO` will not do: in
 * nats-server 2.9, while a replicated stream has no leader, each of its members answers it from
 * its own state, which may lack the latest writes (a mirror "caught up" with that would answer
 * stale reads). A `STREAM.MSG.GET` is answered by the leader only, so the last message's sequence
 * is asked; a stream that holds no message at all (empty, or all expired) falls back to its info,
 * whose answer is then only a lower bound.
 */
export async function leaderLastSequence(
  jsm: JetStreamManager,
  stream: string,
): Promise<number> {
  const last = await jsm.streams.getMessage(stream, { last_by_subj: ">" });
  return last?.seq ?? (await jsm.streams.info(stream)).state.last_seq;
}

/** Options of {@link coherentKv}. */
export interface CoherentKvOptions {
  /** The original bucket, opened to read from its stream leader (`allow_direct: false`). */
  readonly original: KV;
  /** Reads the two streams' last sequences. */
  readonly jsm: JetStreamManager;
  /** The mirror's stream (`KV_<bucket>_mirror_<region>`). */
  readonly mirrorStream: string;
  /** The original's stream (`KV_<bucket>`). */
  readonly originStream: string;
  /** How far behind the original a mirror's answer may be, ms. Default {@link DEFAULT_BOUND_MS}. */
  readonly boundMs?: number;
  /** Clock, ms. */
  readonly now?: () => number;
  /** What the instance shares between the KVs it opens on one bucket ({@link coherence}). */
  readonly shared?: Coherence;
}

/**
 * What one instance knows of a mirror: since when it is known fresh, what was written through
 * the instance, whether the original answers. Shared by every KV the instance opens on the
 * bucket, so a write through one service is read back through another.
 */
export interface Coherence {
  /** The last revision written per key (0: deleted or conflicted, ask the original). */
  readonly written: Map<string, number>;
  /** Time at which the mirror was known to hold everything the original held, ms. */
  freshAsOf: number;
  /** The refresh in flight. */
  refreshing: Promise<void> | undefined;
  /** Until when the original is taken as unreachable, ms. */
  originDownUntil: number;
  /** Reads answered by the mirror, by the original, by the mirror alone (original down), not. */
  readonly answered: { mirror: number; original: number; alone: number; behind: number };
  /** The last error the original (or a refresh) met, for diagnostics. */
  lastError: string | undefined;
}

/** A new {@link Coherence}. */
export function coherence(): Coherence {
  return {
    written: new Map(),
    freshAsOf: -Infinity,
    refreshing: undefined,
    originDownUntil: 0,
    answered: { mirror: 0, original: 0, alone: 0, behind: 0 },
    lastError: undefined,
  };
}

/**
 * `mirror` (a KV opened on the region's mirror, reading from its stream leader) made coherent
 * with `options.original`: see the module documentation. Writes, watches and listings are the
 * mirror's own (writes go to the original's subjects).
 */
export function coherentKv(mirror: KV, options: CoherentKvOptions): KV {
  const state = options.shared ?? coherence();
  const now = options.now ?? Date.now;
  const bound = options.boundMs ?? DEFAULT_BOUND_MS;
  if (!(bound > 0)) throw new RangeError(`Invalid boundMs ${bound} (expected > 0)`);
  const bucket = options.originStream.replace(/^KV_/, "");
  const ctx: Coherent = { mirror, options, state, now, bound, bucket };
  const wrapped: Partial<Record<PropertyKey, unknown>> = {
    [LATEST]: (key: string) => latest(ctx, key),
    get: ((key, opts) => coherentGet(ctx, key, opts)) satisfies KV["get"],
    create: writing(ctx, "create"),
    put: writing(ctx, "put"),
    update: writing(ctx, "update"),
    delete: removing(ctx, "delete"),
    purge: removing(ctx, "purge"),
  };
  return new Proxy(mirror, {
    get(target, prop) {
      if (prop in wrapped) return wrapped[prop];
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** What the parts of one {@link coherentKv} share: its mirror, options and {@link Coherence}. */
interface Coherent {
  readonly mirror: KV;
  readonly options: CoherentKvOptions;
  readonly state: Coherence;
  readonly now: () => number;
  /** How far behind the original a mirror's answer may be, ms. */
  readonly bound: number;
  /** The bucket's name (for errors). */
  readonly bucket: string;
}

/** Remembers `revision` as the last written for `key` (the oldest keys are forgotten first). */
function remember(state: Coherence, key: string, revision: number): void {
  state.written.delete(key);
  state.written.set(key, revision);
  if (state.written.size > REMEMBERED) state.written.delete(state.written.keys().next().value!);
}

/** Learns whether the mirror holds all the original held when this started. */
async function refresh({ options, state, now, bound }: Coherent): Promise<void> {
  const asOf = now();
  const target = await leaderLastSequence(options.jsm, options.originStream);
  // Looked at for about a bound's time; behind after that, reads go to the original until a
  // later refresh finds it caught up.
  for (let look = 0; look * REFRESH_POLL_MS <= bound; look++) {
    if (look > 0) await sleep(REFRESH_POLL_MS);
    const have = (await options.jsm.streams.info(options.mirrorStream)).state.last_seq;
    if (have >= target) {
      state.freshAsOf = Math.max(state.freshAsOf, asOf);
      return;
    }
  }
}

/** Starts a {@link refresh} unless one is in flight. */
function refreshSoon(ctx: Coherent): void {
  const { state, now } = ctx;
  state.refreshing ??= refresh(ctx)
    .catch((e) => {
      // Not fresh, then: reads go to the original. What it was is kept for diagnostics.
      state.lastError = `refresh: ${String(e)}`;
      if (isTransientNatsError(e)) state.originDownUntil = now() + ORIGIN_DOWN_MS;
    })
    .finally(() => state.refreshing = undefined);
}

/** A read of one key on its way: what the mirror was asked, and what is known of the key. */
interface Read {
  readonly key: string;
  readonly opts: Parameters<KV["get"]>[1];
  /** The last revision written (or read from the original) through this instance. */
  readonly floor: number | undefined;
  /** What the mirror answered, when it was asked. */
  readonly seen: KvEntry | null | undefined;
}

/** The coherent `get`: the mirror's entry when fresh enough, else the original's. */
async function coherentGet(
  ctx: Coherent,
  key: string,
  opts: Parameters<KV["get"]>[1],
): Promise<KvEntry | null> {
  const { mirror, state, now, bound } = ctx;
  if (opts?.revision) {
    // A revision never changes: the mirror's copy is as good as the original's.
    const e = await mirror.get(key, opts);
    return e ?? await fromOriginal(ctx, { key, opts, floor: undefined, seen: null });
  }
  const floor = state.written.get(key);
  const fresh = now() - state.freshAsOf <= bound;
  if (!fresh) refreshSoon(ctx);
  // A mirror that is fresh enough answers for a key it holds at a revision not older than
  // the last one written (or read from the original) through this instance.
  let seen: KvEntry | null | undefined;
  if (fresh && floor !== 0) {
    seen = await mirror.get(key, opts);
    if (seen && seen.revision >= (floor ?? 0)) {
      state.answered.mirror++;
      return seen;
    }
  }
  return await fromOriginal(ctx, { key, opts, floor, seen });
}

/** Reads the original's leader; when it cannot answer, what the mirror can say. */
async function fromOriginal(ctx: Coherent, read: Read): Promise<KvEntry | null> {
  const { options, state, now } = ctx;
  const { key, opts, floor } = read;
  let cause: unknown;
  if (now() >= state.originDownUntil) {
    try {
      const e = await options.original.get(key, opts);
      // Never older than this again (monotonic reads); a key the original lacks is asked of
      // the mirror again (bounded by `boundMs` from here).
      if (e && !opts?.revision) remember(state, key, Math.max(e.revision, floor ?? 0));
      else if (floor === 0) state.written.delete(key);
      state.answered.original++;
      return e;
    } catch (err) {
      if (!isTransientNatsError(err)) throw err;
      state.lastError = `get: ${String(err)}`;
      state.originDownUntil = now() + ORIGIN_DOWN_MS;
      cause = err;
    }
  }
  return await answerAlone(ctx, read, cause);
}

/** The original does not answer: the mirror's entry when it is not older than ours. */
async function answerAlone(
  { mirror, state, bucket }: Coherent,
  { key, opts, floor, seen }: Read,
  cause: unknown,
): Promise<KvEntry | null> {
  const e = seen !== undefined ? seen : await mirror.get(key, opts);
  if (e && floor !== 0 && e.revision >= (floor ?? 0)) {
    state.answered.alone++;
    return e;
  }
  state.answered.behind++;
  throw new ReplicaBehindError(bucket, key, { cause });
}

/** The mirror's `name` (a write), remembering the revision written, or 0 when refused. */
function writing({ mirror, state }: Coherent, name: "create" | "put" | "update") {
  return async (key: string, ...rest: unknown[]): Promise<number> => {
    try {
      const revision = await (mirror[name] as (k: string, ...r: unknown[]) => Promise<number>)
        .call(mirror, key, ...rest);
      remember(state, key, revision);
      return revision;
    } catch (err) {
      // Refused (a revision conflict, most often): what the mirror holds is not what the
      // original holds, so the next read asks the original.
      remember(state, key, 0);
      throw err;
    }
  };
}

/** The mirror's `name` (a removal); the next read of the key asks the original. */
function removing({ mirror, state }: Coherent, name: "delete" | "purge") {
  return async (key: string, ...rest: unknown[]) => {
    try {
      await (mirror[name] as (k: string, ...r: unknown[]) => Promise<void>)
        .call(mirror, key, ...rest);
    } finally {
      remember(state, key, 0);
    }
  };
}

/** The original's entry now ({@link getLatest}); {@link ReplicaBehindError} when unreachable. */
async function latest(
  { options, state, bucket }: Coherent,
  key: string,
): Promise<KvEntry | null> {
  try {
    const e = await options.original.get(key);
    if (e) remember(state, key, Math.max(e.revision, state.written.get(key) ?? 0));
    return e;
  } catch (err) {
    if (!isTransientNatsError(err)) throw err;
    throw new ReplicaBehindError(bucket, key, { cause: err });
  }
}

/**
 * Where a device keeps the verified chunks of its artifacts, by SHA-256. Chunks it holds are
 * not downloaded again (delta transfer), and an interrupted download resumes after the last
 * chunk it kept. {@link FileChunkStore} is the device's; {@link PooledChunkStore} lets many
 * simulated devices in one process share the bytes while each keeps its own set of chunks.
 *
 * @example
 * ```ts
 * import { FileChunkStore } from "./chunk_store.ts";
 *
 * const store = new FileChunkStore("/var/lib/vendstream/ota/chunks");
 * console.log(await store.has("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"));
 * ```
 *
 * @module
 */
import { pathExists } from "../../runtime/mod.ts";

/** A device's store of verified chunks. */
export interface ChunkStore {
  /** Whether the chunk is held. */
  has(sha256: string): Promise<boolean>;
  /** Keeps a verified chunk; a chunk once kept is always whole (never half-written). */
  put(sha256: string, data: Uint8Array): Promise<void>;
  /** The chunk's bytes, or undefined when it is not held. */
  get(sha256: string): Promise<Uint8Array | undefined>;
  /** Drops a chunk (one that went bad on disk). */
  delete(sha256: string): Promise<void>;
}

const SHA256 = /^[0-9a-f]{64}$/;

function checked(sha256: string): string {
  if (!SHA256.test(sha256)) {
    throw new TypeError(`Cannot use chunk name "${sha256}": not a lowercase hex SHA-256`);
  }
  return sha256;
}

/** Chunks as files named by their SHA-256 in one folder. */
export class FileChunkStore implements ChunkStore {
  /** The folder. */
  readonly dir: string;
  #made = false;

  /** A store in `dir` (created on the first write). */
  constructor(dir: string) {
    this.dir = dir;
  }

  /** Whether the chunk's file exists. */
  async has(sha256: string): Promise<boolean> {
    // A stat that fails otherwise than "not found" (permissions, I/O) is not "not held".
    return await pathExists(`${this.dir}/${checked(sha256)}`);
  }

  /** Writes the chunk aside, then renames it into place. */
  async put(sha256: string, data: Uint8Array): Promise<void> {
    const path = `${this.dir}/${checked(sha256)}`;
    if (!this.#made) {
      await Deno.mkdir(this.dir, { recursive: true });
      this.#made = true;
    }
    // A name of its own per write: two writers of one chunk never share a half-written file.
    const part = `${path}.${crypto.randomUUID()}.part`;
    try {
      await Deno.writeFile(part, data);
      await Deno.rename(part, path);
    } catch (e) {
      // Cleanup on a failure that is reported (rethrown below): the part may not exist (the
      // write failed first), and one left behind has a name of its own and is never read.
      await Deno.remove(part).catch(() => {/* `e` is the error reported */});
      throw e;
    }
  }

  /** Reads the chunk's file. */
  async get(sha256: string): Promise<Uint8Array | undefined> {
    const path = `${this.dir}/${checked(sha256)}`;
    try {
      return await Deno.readFile(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  }

  /** Removes the chunk's file. */
  async delete(sha256: string): Promise<void> {
    await Deno.remove(`${this.dir}/${checked(sha256)}`).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }
}

/**
 * For simulations (benchmarks of a thousand devices in one process): the bytes live once in a
 * shared {@link FileChunkStore}, each device holds its own set of chunks in memory, so what a
 * device downloads and saves is counted exactly as on a real device while the disk holds each
 * chunk once. Not for devices: the set is lost with the process.
 */
export class PooledChunkStore implements ChunkStore {
  readonly #pool: FileChunkStore;
  readonly #held = new Set<string>();

  /** A device's view of `pool`. */
  constructor(pool: FileChunkStore) {
    this.#pool = pool;
  }

  /** Whether this device holds the chunk. */
  has(sha256: string): Promise<boolean> {
    return Promise.resolve(this.#held.has(checked(sha256)));
  }

  /** Keeps the chunk for this device (written to the pool when it is new there). */
  async put(sha256: string, data: Uint8Array): Promise<void> {
    if (!(await this.#pool.has(sha256))) await this.#pool.put(sha256, data);
    this.#held.add(sha256);
  }

  /** The chunk's bytes when this device holds it. */
  get(sha256: string): Promise<Uint8Array | undefined> {
    return this.#held.has(checked(sha256)) ? this.#pool.get(sha256) : Promise.resolve(undefined);
  }

  /** Drops the chunk from this device (the pool keeps it). */
  delete(sha256: string): Promise<void> {
    this.#held.delete(checked(sha256));
    return Promise.resolve();
  }
}

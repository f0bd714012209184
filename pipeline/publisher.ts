/**
 * The one thing stages need from a message bus: publish bytes on a subject. edge/ implements it
 * over NATS; tests implement it in memory.
 *
 * @module
 */

/** Publishes messages. */
export interface Publisher {
  /** Publishes `data` on `subject`; a returned promise applies backpressure. */
  publish(subject: string, data: Uint8Array): void | Promise<void>;
}

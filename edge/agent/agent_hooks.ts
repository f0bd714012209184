/**
 * Points of the agent's work where a caller can act, for fault tests: edge/testing/ kills the
 * process at one of them to prove that nothing is lost or half-written there. The agent itself
 * never kills anything; a program without hooks runs as if they were not there.
 *
 * @module
 */

/** Hooks {@link Agent} calls at points of its work. Each is optional and must not throw. */
export interface AgentHooks {
  /** After the outbox wrote a message to its journal (before it is published). */
  readonly afterOutboxAppend?: () => void;
  /** After the outbox saw a message acknowledged by its stream. */
  readonly afterOutboxPublish?: () => void;
  /** Before an update phase (`download`, `verify`, `install`, `switch`) starts, in `otaDir`. */
  readonly beforeUpdatePhase?: (phase: string, otaDir: string) => void;
  /** When a version on trial is about to tell its supervisor it is healthy, in `otaDir`. */
  readonly beforeTrialHealthy?: (otaDir: string) => Promise<void>;
}

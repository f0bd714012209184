/**
 * Getting messages through: the outbox (SQLite, delivered in order once online), the NATS bus the
 * pipeline publishes on, signed commands, the clock service of the cabinet's devices, and
 * failover to another region.
 *
 * @example
 * ```ts
 * import { Outbox } from "./mod.ts";
 *
 * using outbox = new Outbox("/tmp/outbox.db");
 * console.log(outbox.stats());
 * ```
 *
 * @module
 */
export { natsClockProbe, serveClock } from "./clock_service.ts";
export {
  CommandFailure,
  type CommandHandler,
  CommandProcessor,
  type CommandProcessorOptions,
  type CommandRefusal,
  type CommandResult,
} from "./command_processor.ts";
export {
  type NatsMessages,
  natsMessages,
  type NatsMessagesOptions,
  natsPublisher,
} from "./nats_bus.ts";
export {
  type AckPublisher,
  Outbox,
  type OutboxEntry,
  OutboxFullError,
  type OutboxOptions,
  type OutboxStats,
} from "./outbox.ts";
export {
  DEVICE_RECONNECT,
  forceReconnect,
  type HomeFirst,
  homeFirst,
  returnHome,
} from "./region_failover.ts";

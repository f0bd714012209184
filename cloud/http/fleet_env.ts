/**
 * What the fleet routes (and the routers beside them) are given, and the variables the
 * application's middleware sets on each request.
 *
 * @module
 */
import type { DeviceFeeds, FleetState, RegionSummaries } from "../fleet/mod.ts";
import type { SessionFeed } from "../checkout/mod.ts";
import type { Actor, TokenService } from "../auth/mod.ts";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "../../runtime/mod.ts";

/**
 * What the fleet routes, the dashboard and every other domain's routes share. A domain's own
 * service is not here: each domain's sub-app takes it in its own dependencies (`UpdateDeps`,
 * `PaymentDeps`, ...), and the cloud service decides which sub-apps the application mounts.
 */
export interface FleetDeps {
  /** The instance's NATS connection. */
  readonly nc: NatsConnection;
  /** Buckets and replicas. */
  readonly state: FleetState;
  /** Token issuing and checking. */
  readonly tokens: TokenService;
  /** Region this instance serves. */
  readonly region: string;
  /** What devices send (telemetry, snapshots, pipeline events), read and followed for pages. */
  readonly deviceFeeds: DeviceFeeds;
  /** The region's payment events, followed for pages. */
  readonly sessionFeed: SessionFeed;
  /** Every region's device counts (`GET /regions` shows only this one's without it). */
  readonly summaries?: RegionSummaries;
  /** Where failures that do not fail a request are logged. */
  readonly logger?: Logger;
}

/** Variables the middleware sets on each request. */
export type FleetEnv = { Variables: { actor: Actor | undefined; requestId: string } };

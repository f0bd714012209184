/**
 * What the fleet routes (and the routers beside them) are given, and the variables the
 * application's middleware sets on each request.
 *
 * @module
 */
import type { PaymentService, PriceBook } from "../checkout/mod.ts";
import type { FleetState, RegionSummaries } from "../fleet/mod.ts";
import type { Actor, CustomerAuth, TokenService } from "../auth/mod.ts";
import type { NatsConnection } from "@nats-io/nats-core";
import type { ComponentRegistry, DeploymentService } from "../updates/mod.ts";
import type { DeviceProvisioning } from "../provisioning/mod.ts";
import type { Logger } from "../../runtime/mod.ts";

/** What the fleet routes need. */
export interface FleetDeps {
  /** The instance's NATS connection. */
  readonly nc: NatsConnection;
  /** Buckets and replicas. */
  readonly state: FleetState;
  /** Token issuing and checking. */
  readonly tokens: TokenService;
  /** Region this instance serves. */
  readonly region: string;
  /** Component versions (remote updates); without it the update routes are not served. */
  readonly registry?: ComponentRegistry;
  /** Deployments (remote updates). */
  readonly deployments?: DeploymentService;
  /** Payments; without it the payment routes are not served. */
  readonly payments?: PaymentService;
  /** Stripe's webhook signing secret; without it the webhook route is not served. */
  readonly stripeWebhookSecret?: string;
  /** Stripe's publishable key: the customer app adds cards with Stripe Elements. */
  readonly stripePublishableKey?: string;
  /** Customers' sign-in; without it the customer app (/app) is not served. */
  readonly customerAuth?: CustomerAuth;
  /** The service's public base URL (what QR codes point at). Default: each request's origin. */
  readonly publicUrl?: string;
  /** Devices' provisioning and revocation; without it those routes are not served. */
  readonly provisioning?: DeviceProvisioning;
  /** The price lists (the price routes need it). */
  readonly prices?: PriceBook;
  /** Every region's device counts (`GET /regions` shows only this one's without it). */
  readonly summaries?: RegionSummaries;
  /** Where failures that do not fail a request are logged. */
  readonly logger?: Logger;
}

/** Variables the middleware sets on each request. */
export type FleetEnv = { Variables: { actor: Actor | undefined; requestId: string } };

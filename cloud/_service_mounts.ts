/**
 * Which domains' sub-apps the service's application mounts, and in which order: the dashboard's
 * pages first (a browser's `GET /deployments` is a page, anything else falls through to the
 * API), then the fleet API and each domain the instance runs.
 *
 * @module
 */
import type { Mount } from "./app.ts";
import {
  fieldDatasetsApi,
  fleetApi,
  type FleetDeps,
  paymentApi,
  planogramApi,
  priceApi,
  provisioningApi,
  shadowComparisonApi,
  updateApi,
} from "./http/mod.ts";
import {
  accuracyDashboard,
  customerApp,
  dashboardApp,
  deploymentsDashboard,
  planogramDashboard,
  sessionsDashboard,
} from "./ui/mod.ts";
import type { CustomerAuth } from "./auth/mod.ts";
import type { PaymentService, PriceBook } from "./checkout/mod.ts";
import type { PlanogramBook } from "./fleet/mod.ts";
import type { FieldDataset } from "./datasets/mod.ts";
import type { ComponentRegistry, DeploymentService } from "./updates/mod.ts";
import type { DeviceProvisioning } from "./provisioning/mod.ts";

/** The domains' services an instance runs, and their HTTP settings. */
export interface DomainServices {
  /** Component versions (remote updates). */
  readonly registry: ComponentRegistry;
  /** Deployments (remote updates). */
  readonly deployments: DeploymentService;
  /** Payments. */
  readonly payments: PaymentService;
  /** The price lists. */
  readonly prices: PriceBook;
  /** The machines' planograms. */
  readonly planograms: PlanogramBook;
  /** The labelled field samples; without it the dataset routes are not served. */
  readonly fieldDataset?: FieldDataset | undefined;
  /** Customers' sign-in (the customer app at `/app`). */
  readonly customerAuth: CustomerAuth;
  /** Devices' provisioning and revocation; without it those routes are not served. */
  readonly provisioning?: DeviceProvisioning | undefined;
  /** Stripe's webhook signing secret; without it the webhook route is not served. */
  readonly stripeWebhookSecret?: string | undefined;
  /** Stripe's publishable key: the customer app adds cards with Stripe Elements. */
  readonly stripePublishableKey?: string | undefined;
  /** The service's public base URL (what QR codes point at). Default: each request's origin. */
  readonly publicUrl?: string | undefined;
}

/** The sub-apps of `fleet` and `services`, in the order the application mounts them. */
export function domainMounts(fleet: FleetDeps, services: DomainServices): Mount[] {
  const { registry, deployments, payments, prices, planograms, customerAuth, provisioning } =
    services;
  const updates = { ...fleet, registry, deployments };
  const payment = {
    ...fleet,
    payments,
    ...(services.stripeWebhookSecret ? { stripeWebhookSecret: services.stripeWebhookSecret } : {}),
    ...(services.publicUrl ? { publicUrl: services.publicUrl } : {}),
  };
  const customers = {
    ...payment,
    customerAuth,
    ...(services.stripePublishableKey
      ? { stripePublishableKey: services.stripePublishableKey }
      : {}),
  };
  return [
    { path: "/", app: sessionsDashboard(payment) },
    { path: "/", app: accuracyDashboard(payment) },
    { path: "/", app: dashboardApp(fleet) },
    { path: "/", app: deploymentsDashboard({ ...updates, fieldDataset: services.fieldDataset }) },
    { path: "/", app: planogramDashboard({ ...fleet, prices, planograms }) },
    { path: "/", app: fleetApi(fleet) },
    { path: "/", app: updateApi(updates) },
    { path: "/", app: paymentApi(payment) },
    { path: "/", app: priceApi({ ...fleet, prices }) },
    { path: "/", app: planogramApi({ ...fleet, prices, planograms }) },
    ...(services.fieldDataset
      ? [
        { path: "/", app: fieldDatasetsApi({ ...payment, fieldDataset: services.fieldDataset }) },
        {
          path: "/deployments",
          app: shadowComparisonApi({ ...updates, fieldDataset: services.fieldDataset }),
        },
      ]
      : []),
    ...(provisioning ? [{ path: "/", app: provisioningApi({ ...fleet, provisioning }) }] : []),
    { path: "/app", app: customerApp(customers) },
  ];
}

import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

/** The node's Prometheus metrics, one registry per node (tests run several in one process). */
export class Metrics {
  readonly registry = new Registry();
  readonly apiRequests = new Counter({ name: 'webcast_api_requests_total', help: 'OpenAPI requests by action and result code', labelNames: ['action', 'code'] as const, registers: [this.registry] });
  readonly callbackDeliveries = new Counter({ name: 'webcast_callback_deliveries_total', help: 'Callback delivery attempts by result: delivered, retried, failed, skipped', labelNames: ['result'] as const, registers: [this.registry] });
  readonly monitorHits = new Counter({ name: 'webcast_monitor_hits_total', help: 'Page monitor findings by check (blank, freeze, crash) and action taken', labelNames: ['check', 'action'] as const, registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'webcast_process_' });
  }
}

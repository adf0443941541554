import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { TASK_VISIBILITY_MS, TaskStatus } from './tasks/types.js';

const STATUS_LABELS: Record<TaskStatus, string> = {
  [TaskStatus.Unknown]: 'unknown',
  [TaskStatus.NotStarted]: 'not_started',
  [TaskStatus.Running]: 'running',
  [TaskStatus.Ended]: 'ended',
  [TaskStatus.Failed]: 'failed',
};

/** Counts tasks by status at scrape time; the store is the truth, so nothing is counted twice. */
export type StatusCounter = (startedSince: number) => Promise<Map<TaskStatus, number>>;

/** The node's Prometheus metrics, one registry per node (tests run several in one process). */
export class Metrics {
  readonly registry = new Registry();
  readonly apiRequests = new Counter({ name: 'webcast_api_requests_total', help: 'OpenAPI requests by action and result code', labelNames: ['action', 'code'] as const, registers: [this.registry] });
  readonly callbackDeliveries = new Counter({ name: 'webcast_callback_deliveries_total', help: 'Callback delivery attempts by result: delivered, retried, failed, skipped', labelNames: ['result'] as const, registers: [this.registry] });
  readonly monitorHits = new Counter({ name: 'webcast_monitor_hits_total', help: 'Page monitor findings by check (blank, freeze, crash) and action taken', labelNames: ['check', 'action'] as const, registers: [this.registry] });
  readonly startLatency = new Histogram({
    name: 'webcast_start_latency_seconds',
    help: 'From an accepted StartWebcast to the first frame published into the room (includes time waiting for a slot)',
    buckets: [0.5, 1, 1.5, 2, 3, 5, 8, 13, 21, 60],
    registers: [this.registry],
  });
  readonly startPhases = new Histogram({
    name: 'webcast_start_phase_seconds',
    help: 'Where a start goes, phase by phase: slot (waiting for a free slot), browser, context, capture, page (loaded), startEvent, publish, firstFrame',
    labelNames: ['phase'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [this.registry],
  });
  readonly pageCrashes = new Counter({ name: 'webcast_page_crashes_total', help: 'Pages that crashed (cause=crash), went over WEBCAST_PAGE_MEMORY_MB (cause=memory), crashed at the most threads and processes a browser may have (cause=threads) or stopped answering while put on air (cause=hang); each is rescheduled', labelNames: ['cause'] as const, registers: [this.registry] });
  readonly cpuThrottled = new Counter({ name: 'webcast_task_cpu_throttled_seconds_total', help: 'Seconds tasks\' browsers were held back by their CPU ceiling (WEBCAST_TASK_CPU_MILLICORES), all tasks together', registers: [this.registry] });
  readonly egressRefusals = new Counter({ name: 'webcast_egress_refusals_total', help: 'Requests of pages the egress proxy refused (the SSRF guard): every one, though the log tells a host at most once a minute', registers: [this.registry] });
  readonly framesPublished = new Counter({ name: 'webcast_frames_published_total', help: 'Video frames sent into rooms, all tasks and simulcast layers together', registers: [this.registry] });

  constructor(countByStatus?: StatusCounter, clock: () => number = Date.now) {
    collectDefaultMetrics({ register: this.registry, prefix: 'webcast_process_' });
    if (countByStatus) {
      new Gauge({
        name: 'webcast_tasks',
        help: 'Tasks started within the last 72 hours (the API\'s visibility window), by status',
        labelNames: ['status'] as const,
        registers: [this.registry],
        async collect() {
          const counts = await countByStatus(clock() - TASK_VISIBILITY_MS);
          for (const [status, label] of Object.entries(STATUS_LABELS)) {
            if (Number(status) === TaskStatus.Unknown) continue;
            this.set({ status: label }, counts.get(Number(status) as TaskStatus) ?? 0);
          }
        },
      });
    }
  }
}

import client from 'prom-client';

/**
 * Prometheus series that a process keeps from its start: counters and histograms that the domains
 * update as work happens (messages/metrics.ts, inbound/metrics.ts, campaigns/runs.ts), and Node's
 * own process metrics. Gauges read from the database when scraped belong to an engine
 * (gauges.ts). Every name starts with `touchpoint_`; counters end in `_total`, durations in
 * `_seconds`. Labels hold bounded vocabularies only (channels, reasons, categories), never ids.
 */
export const processRegistry = new client.Registry();
client.collectDefaultMetrics({ register: processRegistry, prefix: 'touchpoint_' });

export function counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): client.Counter<L> {
  return new client.Counter({ name, help, labelNames, registers: [processRegistry] });
}

export function histogram<L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]): client.Histogram<L> {
  return new client.Histogram({ name, help, labelNames, buckets, registers: [processRegistry] });
}

/** Latencies that span a fast send (tens of milliseconds) and a backlog drained over an hour. */
export const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600];

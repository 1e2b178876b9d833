import { collectDefaultMetrics, Counter, Registry } from 'prom-client';

/**
 * The control thread's metrics: the process (CPU, memory, event loop of this thread) and how
 * configuration revisions arrived. /metrics is this registry's text followed by the data-plane
 * thread's (TrafficMetrics); their metric names are disjoint.
 */
export class ControlMetrics {
  readonly registry = new Registry();
  readonly configApplied = new Counter({
    name: 'idm_gateway_config_applied_total',
    help: 'Configuration revisions applied, by how they arrived',
    labelNames: ['mode'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Prometheus text of both registries (one content type: both are prom-client's text format). */
  async exposition(trafficText: string): Promise<string> {
    const own = await this.registry.metrics();
    return own.endsWith('\n') || own === '' ? own + trafficText : `${own}\n${trafficText}`;
  }
}

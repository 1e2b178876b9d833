import { collectDefaultMetrics, Counter, Registry } from 'prom-client';

/** One registry per process: default Node metrics plus the admin API's request counter. */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry, prefix: 'idm_manager_' });

export const httpRequests = new Counter({
  name: 'idm_manager_http_requests_total',
  help: 'Admin API requests by method, route and status',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [metricsRegistry],
});

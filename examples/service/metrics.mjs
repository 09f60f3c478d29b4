// GET /metrics: the pool's metrics (pool.metrics(), docs/observability.md)
// and the service's own counter, in the Prometheus text format.

/** The exposition text: the pool's metrics (none inline) and the responses by status. */
export function metricsText(pool, served) {
  const lines = [
    '# HELP service_responses_total HTTP responses by status code; 499 means the client left first.',
    '# TYPE service_responses_total counter',
  ];
  for (const [status, n] of Object.entries(served.byStatus))
    lines.push(`service_responses_total{status="${status}"} ${n}`);
  return (pool?.metrics() ?? '') + lines.join('\n') + '\n';
}

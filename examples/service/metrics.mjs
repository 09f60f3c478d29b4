// GET /metrics: the pool's metrics in the Prometheus text format. Uses
// pool.metrics() where this version of deadpool has it, and otherwise renders
// a minimal set of series from getStatistics() with the same names.

/** The exposition text for `pool` (or, inline, the service's own counters only). */
export function metricsText(pool, served) {
  const text = pool === undefined ? '' : poolMetrics(pool);
  return text + servedMetrics(served);
}

function poolMetrics(pool) {
  // Fallback for a deadpool without pool.metrics(): the statistics, as counters and gauges.
  if (typeof pool.metrics === 'function') return pool.metrics();
  const s = pool.getStatistics();
  const lines = [];
  const family = (name, type, help, samples) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  family('deadpool_tasks_received_total', 'counter', 'Tasks accepted by submit and map.', [
    ['', s.tasksReceived],
  ]);
  family('deadpool_tasks_total', 'counter', 'Tasks settled, by outcome.', [
    ['{outcome="completed"}', s.tasksCompleted],
    ['{outcome="failed"}', s.tasksFailed],
    ['{outcome="cancelled"}', s.tasksCancelled],
  ]);
  family('deadpool_tasks_timed_out_total', 'counter', 'Tasks that timed out.', [
    ['', s.tasksTimedOut],
  ]);
  family('deadpool_workers_created_total', 'counter', 'Worker processes spawned.', [
    ['', s.workerProcessesCreated],
  ]);
  family(
    'deadpool_worker_exits_total',
    'counter',
    'Worker processes that exited, by reason.',
    Object.entries(s.workerExits).map(([reason, n]) => [`{reason="${reason}"}`, n]),
  );
  family('deadpool_workers', 'gauge', 'Worker processes alive now, by state.', [
    ['{state="starting"}', s.workerProcessesStarting],
    ['{state="idle"}', s.workerProcessesIdle],
    ['{state="busy"}', s.workerProcessesBusy],
    ['{state="retiring"}', s.workerProcessesRetiring],
  ]);
  family('deadpool_backlog_tasks', 'gauge', 'Tasks waiting for a worker now.', [
    ['', s.backlogSize],
  ]);
  return lines.join('\n') + '\n';
}

/** The service's own counter: responses by status code (499: the client left first). */
function servedMetrics(served) {
  const lines = [
    '# HELP service_responses_total HTTP responses by status code; 499 means the client left first.',
    '# TYPE service_responses_total counter',
  ];
  for (const [status, n] of Object.entries(served.byStatus))
    lines.push(`service_responses_total{status="${status}"} ${n}`);
  return lines.join('\n') + '\n';
}

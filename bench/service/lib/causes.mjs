// Why a request was not answered 2xx: each non-2xx response of the load test
// is matched to the fault that explains it, or reported as unexplained.

/**
 * The cause of one non-2xx response, or undefined if nothing the load test
 * did explains it. `response`: `{ route, kind?, status, body }` (`kind`: the
 * poison, for poison routes); `killed`: the pids the killer shot;
 * `queueTimeouts`: whether a 504 in the queue phase is an expected outcome
 * (the service's queueTimeout is short enough to be hit under load).
 */
export function causeOf(response, { killed, queueTimeouts }) {
  const { status, body, kind } = response;
  const code = body?.error;
  if (
    status === 502 &&
    killed.has(body.pid) &&
    body.signal === 'SIGKILL' &&
    code === 'ERR_DEADPOOL_PROCESS'
  )
    return '502 worker SIGKILLed by the killer';
  if (status === 502 && kind === 'runaway' && code === 'ERR_DEADPOOL_MEMORY_LIMIT')
    return '502 poison runaway: memoryLimitBytes';
  if (status === 502 && kind === 'exit' && code === 'ERR_DEADPOOL_PROCESS' && body.exitCode === 3)
    return '502 poison exit: process.exit(3)';
  if (status === 502 && kind === 'spawn' && code === 'ERR_DEADPOOL_PROCESS' && body.exitCode === 4)
    return '502 poison spawn: children, then process.exit(4)';
  if (status === 504 && code === 'ERR_DEADPOOL_TIMEOUT' && body.phase === 'run') {
    if (kind === 'loop') return '504 poison loop: timeout';
    // A slow machine allocates slower than the timeout runs out.
    if (kind === 'runaway') return '504 poison runaway: timeout before memoryLimitBytes';
  }
  if (status === 504 && code === 'ERR_DEADPOOL_TIMEOUT' && body.phase === 'queue' && queueTimeouts)
    return '504 queueTimeout: not started in time';
  if (status === 503 && code === 'ERR_DEADPOOL_BACKLOG_FULL') return '503 backlog full';
  return undefined;
}

/** True if a poison request ended by its poison's own fault (or succeeded, as a leak does), not by a kill. */
export function ownOutcome(response) {
  if (response.status >= 200 && response.status < 300) return true;
  return causeOf(response, { killed: new Set(), queueTimeouts: false }) !== undefined;
}

/** Counts by cause of the non-2xx `responses`, and those left unexplained. */
export function explain(responses, context) {
  const causes = {};
  const unexplained = [];
  for (const response of responses) {
    if (response.status >= 200 && response.status < 300) continue;
    const cause = causeOf(response, context);
    if (cause === undefined) unexplained.push(response);
    else causes[cause] = (causes[cause] ?? 0) + 1;
  }
  return { causes, unexplained };
}

// How the pool's errors become HTTP responses. Match on `code`, as docs/api.md
// says; the classes are exported too. MemoryLimitError extends ProcessError.

const byCode = {
  // The task waited too long for a worker (phase 'queue') or ran past its timeout (phase 'run').
  ERR_DEADPOOL_TIMEOUT: 504,
  // The worker died during the task: killed from outside, process.exit(), a native crash...
  ERR_DEADPOOL_PROCESS: 502,
  // ...or SIGKILLed by the pool for passing memoryLimitBytes.
  ERR_DEADPOOL_MEMORY_LIMIT: 502,
  // Shed load: maxBacklog tasks already wait. The client may retry later.
  ERR_DEADPOOL_BACKLOG_FULL: 503,
  // The pool is shutting down, or workers cannot start at all.
  ERR_DEADPOOL_CLOSED: 503,
  ERR_DEADPOOL_WORKER_START: 503,
};

/**
 * The status and JSON body for an error a task's future rejected with (or
 * `submit` threw), or undefined when it is not the pool's own error (the
 * task's own error: the caller's generic 500).
 */
export function poolErrorResponse(error) {
  const status = byCode[error?.code];
  if (status === undefined) return undefined;
  const body = { error: error.code, message: error.message };
  if (error.phase !== undefined) body.phase = error.phase;
  if (status === 502) {
    body.pid = error.pid;
    body.exitCode = error.exitCode;
    body.signal = error.signal;
    if (error.rss !== undefined) body.rss = error.rss;
  }
  return { status, body };
}

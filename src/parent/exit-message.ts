/** The ProcessError of a task whose worker died: what it died of, as far as can be told. */
import { ProcessError } from '../shared/errors.js';
import { label, type Job } from './job.js';
import type { Worker } from './worker.js';

export function processError(
  job: Job,
  worker: Worker,
  exitCode: number | null,
  signal: NodeJS.Signals | null,
): ProcessError {
  const details = {
    pid: worker.pid,
    exitCode,
    signal,
    taskName: job.options.name,
    stderr: worker.stderrTail,
  };
  const cause = worker.fatal?.error;
  const message = describeExit(label(job), worker, exitCode, signal);
  return new ProcessError(message, details, cause ? { cause } : undefined);
}

function describeExit(
  task: string,
  worker: Worker,
  exitCode: number | null,
  signal: NodeJS.Signals | null,
): string {
  const how = `exit code ${exitCode}, signal ${signal}`;
  let why = '';
  if (/heap out of memory|Allocation failed/i.test(worker.stderrTail)) {
    why = ': it ran out of V8 heap memory (JavaScript heap out of memory)';
  } else if (worker.fatal) {
    const error = worker.fatal.error;
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    why = `: ${worker.fatal.kind === 'unhandledRejection' ? 'an unhandled rejection' : 'an uncaught exception'} (${text})`;
  } else if (worker.stalledExit !== undefined) {
    why = `: it called process.exit(${worker.stalledExit}), and its exit stalled in Node's teardown, so the pool killed it`;
  } else if (exitCode === 0 && signal === null) {
    why = ': it exited by itself (process.exit(0), or it closed its IPC channel)';
  } else if (signal === null) {
    why = ': it called process.exit() or exited on an error';
  }
  return `worker ${worker.pid} died during task ${task}${why}; ${how}`;
}

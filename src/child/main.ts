/**
 * Child side of a worker, its entry point: load tasks, run them one at a
 * time, send results and errors back in a shape that survives serialization,
 * and die with the parent. It talks to the pool only through the messages of
 * ../shared/protocol.ts.
 */
import { Worker } from 'node:worker_threads';
import { TimeoutError } from '../shared/errors.js';
import { descendants, killTree } from '../shared/kill.js';
import {
  PROGRESS_SLOT,
  SIGNAL_SLOT,
  toWire,
  cloneable,
  type BootConfig,
  type Outcome,
  type ParentMessage,
  type TaskSpec,
  type WorkerMessage,
  type WireError,
} from '../shared/protocol.js';
import { explainReferenceError, TaskLoader } from './load-task.js';
import { ProgressSender } from './progress.js';

const boot = JSON.parse(process.argv[2] ?? '{}') as BootConfig;
const loader = new TaskLoader(boot.cwd);
const slots = globalThis as Record<symbol, unknown>;
/** The running task; its AbortController is made only if someone asks for the signal. */
let current: { id: number; controller: AbortController | undefined; batch: boolean } | undefined;
slots[SIGNAL_SLOT] = (): AbortSignal | undefined => {
  if (!current) return undefined;
  current.controller ??= new AbortController();
  return current.controller.signal;
};
const progress = new ProgressSender((message, then) => {
  if (process.connected) process.send!(message, undefined, undefined, () => then());
});
slots[PROGRESS_SLOT] = (value: unknown): void => {
  if (current) progress.report(current.id, value);
};
const rss = (): number | undefined => (boot.reportRss ? process.memoryUsage.rss() : undefined);

function startWatchdog(): void {
  const thread = new Worker(new URL('./watchdog.js', import.meta.url), {
    workerData: { parentPid: boot.parentPid },
    stdout: false,
    stderr: false,
  });
  thread.unref();
  thread.on('error', () => {
    // Without the watchdog the IPC 'disconnect' below still covers idle workers.
  });
}

/** Kill what this worker started, then leave. */
function exitNow(code: number): never {
  for (const pid of descendants(process.pid)) killTree(pid);
  process.exit(code);
}

function send(message: WorkerMessage, then?: () => void): void {
  if (!process.connected) return;
  process.send!(message, undefined, undefined, then ? () => then() : undefined);
}

function serializationFailure(id: number, what: string, error: unknown): WorkerMessage {
  const reason = error instanceof Error ? error.message : String(error);
  const wire: WireError = {
    kind: 'pool',
    code: 'ERR_DEADPOOL_SERIALIZATION',
    message: `${what} cannot be serialized: ${reason}`,
  };
  return { t: 'err', id, error: wire, rss: rss() };
}

/**
 * Send a reply; a value that cannot cross becomes a SerializationError for
 * this task only (for a batch, for the items whose results cannot cross).
 */
function reply(message: WorkerMessage & { id: number }, batch = false): void {
  try {
    send(message);
  } catch (error) {
    if (batch && message.t === 'ok') {
      const outcomes = (message.value as Outcome[]).map((outcome): Outcome => {
        if (!outcome[0] || cloneable(outcome[1])) return outcome;
        const failure = serializationFailure(message.id, 'the result', 'it cannot be cloned');
        return [false, (failure as { error: WireError }).error];
      });
      reply({ ...message, value: outcomes });
      return;
    }
    const what = message.t === 'ok' ? 'the result' : 'the error';
    send(serializationFailure(message.id, what, error));
  }
}

async function call(spec: TaskSpec, args: readonly unknown[]): Promise<unknown> {
  const fn = await loader.load(spec);
  try {
    return await fn(...args);
  } catch (error) {
    explainReferenceError(error, spec);
    throw error;
  }
}

/**
 * Run one task. Synchronous tasks are answered without a detour through the
 * microtask queue; `ack` asks for a 'started' message once the task's module
 * is loaded, so the parent's deadline does not count the import.
 */
function run(id: number, spec: TaskSpec, args: unknown[], ack: boolean, batch: boolean): void {
  current = { id, controller: undefined, batch };
  let loaded: ReturnType<TaskLoader['load']>;
  try {
    loaded = loader.load(spec);
  } catch (error) {
    finish(id, spec, false, error);
    return;
  }
  const go = (fn: Callable): void => {
    if (ack) send({ t: 'started', id });
    if (batch) invoke(id, spec, eachOf(fn, spec), [args]);
    else invoke(id, spec, fn, args);
  };
  if (loaded instanceof Promise)
    loaded.then(go, (error: unknown) => finish(id, spec, false, error));
  else go(loaded);
}

type Callable = (...args: unknown[]) => unknown;

/**
 * A batch (from `map`): run `fn` over each argument list in turn, each item
 * keeping its own result or error. Synchronous items never touch the
 * microtask queue.
 */
function eachOf(fn: Callable, spec: TaskSpec): Callable {
  return (items) => {
    const lists = items as unknown[][];
    const outcomes: Outcome[] = [];
    const failed = (error: unknown): void => {
      explainReferenceError(error, spec);
      outcomes.push([false, toWire(error)]);
    };
    let i = 0;
    const step = (): Outcome[] | Promise<Outcome[]> => {
      while (i < lists.length) {
        let result: unknown;
        try {
          result = fn(...lists[i++]!);
        } catch (error) {
          failed(error);
          continue;
        }
        if (isThenable(result)) {
          return Promise.resolve(result).then(
            (value) => {
              outcomes.push([true, value]);
              return step();
            },
            (error: unknown) => {
              failed(error);
              return step();
            },
          );
        }
        outcomes.push([true, result]);
      }
      return outcomes;
    };
    return step();
  };
}

function invoke(id: number, spec: TaskSpec, fn: Callable, args: unknown[]): void {
  let result: unknown;
  try {
    result = fn(...args);
    if (isThenable(result)) {
      result.then(
        (value) => finish(id, spec, true, value),
        (error: unknown) => finish(id, spec, false, error),
      );
      return;
    }
  } catch (error) {
    finish(id, spec, false, error);
    return;
  }
  finish(id, spec, true, result);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function finish(id: number, spec: TaskSpec, ok: boolean, value: unknown): void {
  const batch = current?.id === id && current.batch;
  if (current?.id === id) current = undefined;
  progress.flush(id);
  if (ok) {
    reply({ t: 'ok', id, value, rss: rss() }, batch);
  } else {
    explainReferenceError(value, spec);
    reply({ t: 'err', id, error: toWire(value), rss: rss() });
  }
}

async function init(spec: TaskSpec | undefined, args: readonly unknown[]): Promise<void> {
  // The watchdog thread boots beside user code, never after it: before an
  // initializer runs, or right after 'ready' (off the start-up critical path).
  if (spec) startWatchdog();
  try {
    if (spec) await call(spec, args);
    send({ t: 'ready' });
    if (!spec) startWatchdog();
  } catch (error) {
    send({ t: 'initFailed', error: toWire(error) }, () => exitNow(1));
  }
}

async function finalize(spec: TaskSpec | undefined, args: readonly unknown[]): Promise<void> {
  let error: WireError | undefined;
  try {
    if (spec) await call(spec, args);
  } catch (thrown) {
    error = toWire(thrown);
  }
  if (process.connected) send({ t: 'finalized', error }, () => exitNow(0));
  else exitNow(0);
}

function onMessage(message: ParentMessage): void {
  switch (message.t) {
    case 'run':
      run(message.id, message.spec, message.args, message.ack === true, message.batch === true);
      break;
    case 'abort':
      if (current?.id === message.id) {
        current.controller ??= new AbortController();
        current.controller.abort(new TimeoutError(`task ${message.id} passed its soft timeout`));
      }
      break;
    case 'init':
      void init(message.spec, message.args);
      break;
    case 'finalize':
      void finalize(message.spec, message.args);
      break;
  }
}

function fatal(kind: 'uncaughtException' | 'unhandledRejection', error: unknown): void {
  // The worker can no longer be trusted: report, then die. The pool fails the
  // running task (if any) with a ProcessError that names this error.
  try {
    send({ t: 'fatal', kind, error: toWire(error) }, () => exitNow(1));
  } catch {
    exitNow(1);
  }
  setTimeout(() => exitNow(1), 1_000).unref();
}

process.on('uncaughtException', (error) => fatal('uncaughtException', error));
process.on('unhandledRejection', (reason) => fatal('unhandledRejection', reason));
// The pool closed the channel, or its process died: nothing more can be reported.
process.on('disconnect', () => exitNow(0));
process.on('message', onMessage);

/**
 * Child side of a worker, its entry point: boot (the initializer, and the
 * watchdog thread where no sentinel guards the pool), route the pool's
 * messages to the runner (and task modules offered ahead to the warmer), report fatal errors,
 * run the finalizer, and die with the parent, taking every descendant along.
 * It talks to the pool only through the messages of ../shared/protocol.ts.
 */
import { codeCacheNews, saveCodeCache } from '../shared/code-cache.js';
import { killDescendants } from '../shared/kill.js';
import {
  PROGRESS_SLOT,
  SIGNAL_SLOT,
  toWire,
  type BootConfig,
  type ParentMessage,
  type TaskSpec,
  type WorkerMessage,
  type WireError,
} from '../shared/protocol.js';
import { limitProcesses, whenDisconnected } from './cgroup.js';
import { workerEntryRan } from '../shared/nesting.js';
import { explainReferenceError, TaskLoader } from './load-task.js';
import { ProgressSender } from './progress.js';
import { Runner } from './runner.js';
import { UsageCounter } from './usage.js';
import { Warmer } from './warm.js';

// From here on, a pool created outside a task module's import is a task's own.
workerEntryRan();
const boot = JSON.parse(process.argv[2] ?? '{}') as BootConfig;
const loader = new TaskLoader(boot.cwd);

/**
 * Debug output (NODE_DEBUG=deadpool), as the pool's (src/parent/debug.ts),
 * on this worker's stderr, which the pool passes on. Node has node:util
 * loaded already when a worker starts.
 */
const debug = process.getBuiltinModule('node:util').debuglog('deadpool');
/** The code cache this worker lacked is queued to be written (src/shared/code-cache.ts). */
let cacheQueued = false;
function saveCache(): void {
  for (const line of saveCodeCache()) debug(line);
}

function send(message: WorkerMessage, then?: () => void): void {
  if (!process.connected) return;
  process.send!(message, undefined, undefined, then);
}

const progress = new ProgressSender(send);
const usage = new UsageCounter(boot.cgroup);
const runner = new Runner(loader, send, progress, usage, boot.maxRss, boot.concurrent);
const warmer = new Warmer(loader, runner);
const slots = globalThis as Record<symbol, unknown>;
slots[SIGNAL_SLOT] = (): AbortSignal | undefined => runner.signal();
slots[PROGRESS_SLOT] = (value: unknown): void => runner.report(value);

let watchdog: Promise<void> | undefined;

/**
 * Where no sentinel guards the pool (src/parent/containment/sentinel.ts), a
 * thread that kills this worker's tree when the pool's process dies. Started
 * once; resolves once it runs (or failed to start).
 */
function startWatchdog(): Promise<void> {
  watchdog ??= newWatchdog();
  return watchdog;
}

function newWatchdog(): Promise<void> {
  // Loaded here, not imported: most workers never start a watchdog, and
  // node:worker_threads cost every worker's start ~0.7 ms of CPU.
  const { Worker } = process.getBuiltinModule('node:worker_threads');
  const thread = new Worker(new URL('./watchdog.js', import.meta.url), {
    workerData: { parentPid: boot.parentPid, cgroupKill: boot.cgroup?.kill },
    stdout: false,
    stderr: false,
  });
  thread.unref();
  return new Promise((resolve) => {
    thread.once('online', resolve);
    thread.on('error', () => {
      // Without the watchdog the IPC 'disconnect' below still covers idle workers.
      resolve();
    });
  });
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

async function init(spec: TaskSpec | undefined, args: readonly unknown[]): Promise<void> {
  // A watchdog thread, where one is needed, boots beside user code, never
  // after it: before an initializer runs, or right after 'ready' (off the
  // start-up critical path). With a process limit it must be up before the
  // limit counts the worker's own threads.
  const limited = boot.cgroup?.pidsMax !== undefined;
  const early = boot.watchdog && (spec || limited) ? startWatchdog() : undefined;
  try {
    if (limited) {
      await early;
      await limitProcesses(boot.cgroup);
    }
    if (spec) await call(spec, args);
    usage.read();
    send({ t: 'ready', cpu: usage.total(), peak: usage.peak });
    if (debug.enabled) for (const line of codeCacheNews()) debug(line);
    if (boot.watchdog) void startWatchdog();
    // `deadpool/task`, which every module made with defineTask() imports
    // (2–3 ms of a worker's first task): the same file as the task module's
    // import when both come from one installed package.
    warmer.offer([new URL('../task-module.js', import.meta.url).href]);
  } catch (error) {
    send({ t: 'initFailed', error: toWire(error) }, () => process.exit(1));
  }
}

async function finalize(spec: TaskSpec | undefined, args: readonly unknown[]): Promise<void> {
  let error: WireError | undefined;
  try {
    if (spec) await call(spec, args);
  } catch (thrown) {
    error = toWire(thrown);
  }
  saveCache();
  if (process.connected) send({ t: 'finalized', error }, () => process.exit(0));
  else process.exit(0);
}

function onMessage(message: ParentMessage): void {
  switch (message.t) {
    case 'run':
      runner.run(message.tasks);
      // Written once this worker has run a task and is idle (a few ms, once per cache file).
      if (!cacheQueued) {
        cacheQueued = true;
        warmer.idle(saveCache);
      }
      break;
    case 'drop':
      send({ t: 'dropped', ids: runner.drop(message.ids) });
      break;
    case 'abort':
      runner.abort(message.id, message.reason);
      break;
    case 'credit':
      runner.credit(message.id, message.n);
      break;
    case 'stop':
      runner.stop(message.id);
      break;
    case 'init':
      void init(message.spec, message.args);
      break;
    case 'finalize':
      void finalize(message.spec, message.args);
      break;
    case 'watchdog':
      void startWatchdog();
      break;
    case 'warm':
      warmer.offer(message.modules);
      break;
  }
}

function fatal(kind: 'uncaughtException' | 'unhandledRejection', error: unknown): void {
  // The worker can no longer be trusted: report, then die. The pool fails the
  // running task (if any) with a ProcessError that names this error.
  try {
    send({ t: 'fatal', kind, error: toWire(error) }, () => process.exit(1));
  } catch {
    process.exit(1);
  }
  setTimeout(() => process.exit(1), 1_000).unref();
}

// However the worker exits (process.exit() in a task, a fatal error, retirement),
// its whole tree goes first, children in their own session included.
process.on('exit', () => {
  killDescendants(process.pid);
});

/**
 * process.exit() calls this once the 'exit' listeners ran; only Node's own
 * teardown is left, and it can stall: on the deadlock of nodejs/node#54918,
 * or joining a thread stuck in native code. So the worker says so first,
 * and the pool kills one still alive a bound later (src/parent/worker.ts,
 * EXITING_MS). The write goes out at once unless the channel has a backlog;
 * when the message cannot get out, the pool waits for the exit as before.
 */
const exiting = process as NodeJS.Process & { reallyExit(code?: number): never };
const reallyExit = exiting.reallyExit.bind(process);
exiting.reallyExit = (code?: number): never => {
  try {
    send({ t: 'exiting', code: Number(code ?? 0) });
  } catch {
    // the pool will see the exit
  }
  return reallyExit(code);
};
process.on('uncaughtException', (error) => fatal('uncaughtException', error));
process.on('unhandledRejection', (reason) => fatal('unhandledRejection', reason));
// The pool closed the channel, or its process died: nothing more can be reported.
process.on('disconnect', () =>
  whenDisconnected(boot.cgroup, boot.parentPid, () => process.exit(0)),
);
process.on('message', onMessage);

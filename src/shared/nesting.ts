/**
 * A pool never multiplies itself. Every worker imports the modules that
 * define its tasks; a module that also creates a pool (the natural first
 * program: the task and the pool in one file) would have each worker fork
 * workers that import it again, without end. So the constructor refuses to
 * run while a worker imports a task module (its body, its static imports,
 * code after a top-level await), or in a worker's `--import`/`-r` preload,
 * before the worker's entry has run. A pool made by a running task
 * (deliberate nesting) is allowed.
 *
 * The state lives in a process-global slot (`Symbol.for`), so two copies of
 * the library in one worker (duplicate installs, tsx on `src` beside `dist`)
 * share it; whether this is a worker is never read from the environment.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { fileURLToPath } from 'node:url';
import { NestedPoolError } from './errors.js';

interface NestingState {
  /** The task module a worker is importing, in the import's async context. */
  readonly importing: AsyncLocalStorage<string>;
  /** Task-module imports in flight. */
  imports: number;
  /** Set by the worker's entry: past it, a pool outside an import is a task's own. */
  entryRan: boolean;
}

const SLOT = Symbol.for('deadpool.nesting.v1');

function state(): NestingState {
  const slots = globalThis as Record<symbol, NestingState | undefined>;
  return (slots[SLOT] ??= {
    importing: new AsyncLocalStorage<string>(),
    imports: 0,
    entryRan: false,
  });
}

/** The worker imports task module `module`: a pool constructed meanwhile is refused. */
export async function importingTaskModule<T>(module: string, load: () => Promise<T>): Promise<T> {
  const nesting = state();
  nesting.imports++;
  try {
    return await nesting.importing.run(module, load);
  } finally {
    // Before Node 24, an enabled AsyncLocalStorage slows every promise of the
    // process (async hooks): it is on only while a task module loads.
    if (--nesting.imports === 0) nesting.importing.disable();
  }
}

/** The worker's entry module calls this first thing. */
export function workerEntryRan(): void {
  state().entryRan = true;
}

const ADVICE =
  'Define tasks in a module that does not create a pool, or create the pool only when ' +
  'the module is the program run (`if (import.meta.main)` on Node >= 24.2, ' +
  'or `if (process.argv[1] === fileURLToPath(import.meta.url))`)';

/** Throws NestedPoolError when constructing a pool now would make workers multiply. */
export function refuseNestedPool(): void {
  const { importing, entryRan } = state();
  const module = importing.getStore();
  if (module !== undefined) {
    throw new NestedPoolError(
      `a Deadpool was created while a worker imported the task module ${display(module)}: ` +
        'each of its workers would import that module again and create a pool of its own, ' +
        `without end. ${ADVICE}`,
    );
  }
  if (!entryRan && isWorkerBeforeEntry()) {
    const preloads = preloadsOf(process.execArgv);
    throw new NestedPoolError(
      `a Deadpool was created in a worker before the worker started, by a preload of its execArgv` +
        `${preloads.length > 0 ? ` (${preloads.join(' ')})` : ''}: each of its workers would ` +
        'run that preload again and create a pool of its own, without end. Pass the pool an ' +
        '`execArgv` without that preload, or create the pool in the program, not in a preload',
    );
  }
}

/** A file: URL as a path; anything else as it is. */
function display(module: string): string {
  try {
    return module.startsWith('file:') ? fileURLToPath(module) : module;
  } catch {
    return module;
  }
}

/**
 * Is this process a deadpool worker (any copy's) whose entry has not run yet?
 * A worker is forked as `node [execArgv] <...>/child/worker.cjs <boot JSON>`
 * (the bundled entry; `main.js` in a build without the bundle) with an IPC
 * channel, and the boot JSON names its parent's pid.
 */
function isWorkerBeforeEntry(): boolean {
  const [, entry, boot] = process.argv;
  if (typeof process.send !== 'function' || entry === undefined || boot === undefined) {
    return false;
  }
  if (!/[\\/]child[\\/](main|worker)\.[cm]?[jt]s$/.test(entry)) return false;
  try {
    const config = JSON.parse(boot) as { parentPid?: unknown; cwd?: unknown } | null;
    return config?.parentPid === process.ppid && typeof config.cwd === 'string';
  } catch {
    return false;
  }
}

/** The `--import`/`-r`/`--require` flags of `execArgv`, each with its value. */
function preloadsOf(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    if (/^(--import|--require|-r|--loader|--experimental-loader)=/.test(arg)) out.push(arg);
    else if (/^(--import|--require|-r|--loader|--experimental-loader)$/.test(arg)) {
      out.push(`${arg} ${execArgv[i + 1] ?? ''}`.trim());
      i++;
    }
  }
  return out;
}

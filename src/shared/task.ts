/**
 * How code becomes something a worker can load: a defined task, a module
 * reference, or a self-contained function sent by its source text.
 */
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TaskSpec } from './protocol.js';
import { show } from './show.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TaskFunction = (...args: any[]) => unknown;

/**
 * Keys on a task handle, shared across copies of the package (so a handle made
 * by any copy is recognised): TASK holds its TaskSpec, FN the function the
 * worker calls (defineTask's, without the wrapper).
 */
export const TASK = Symbol.for('deadpool.task');
export const FN = Symbol.for('deadpool.fn');

declare const taskType: unique symbol;

/** A reference to a task a worker can import. `F` is the task's function type. */
export interface TaskRef<F extends TaskFunction = TaskFunction> {
  readonly [TASK]: TaskSpec & { readonly kind: 'module' };
  /** Type-only: carries `F` so `submit` can infer arguments and result. */
  readonly [taskType]?: F;
}

/** What `defineTask` returns: still callable in the parent, and loadable by a worker. */
export type TaskHandle<F extends TaskFunction> = F & TaskRef<F>;

/** Anything `submit`, `map` and the `initializer`/`finalizer` options accept. */
export type Task<F extends TaskFunction = TaskFunction> = F | TaskRef<F>;

function moduleHref(module: unknown, what: string): string {
  if (module instanceof URL) module = module.href;
  if (typeof module !== 'string' || module === '') {
    throw new TypeError(
      `Expected \`${what}\` to be an absolute path or a file: URL, got ${show(module)}`,
    );
  }
  if (module.startsWith('file:')) return new URL(module).href;
  if (isAbsolute(module)) return pathToFileURL(module).href;
  throw new TypeError(
    `Expected \`${what}\` to be an absolute path or a file: URL, got \`${module}\` (a relative path or another scheme)`,
  );
}

function checkName(name: unknown, what: string): asserts name is string {
  if (typeof name !== 'string' || name === '') {
    throw new TypeError(`Expected \`${what}\` to be a non-empty string, got ${show(name)}`);
  }
}

/**
 * Define a task in a task module:
 * `export const resize = defineTask(import.meta.url, 'resize', async (img: Buffer, w: number) => ...)`.
 * `name` must be the name of the export. The handle can still be called directly.
 */
export function defineTask<F extends TaskFunction>(
  moduleUrl: string | URL,
  name: string,
  fn: F,
): TaskHandle<F> {
  const module = moduleHref(moduleUrl, 'moduleUrl');
  checkName(name, 'name');
  if (typeof fn !== 'function') {
    throw new TypeError(`Expected \`fn\` to be a function, got ${show(fn)}`);
  }
  const handle = function (this: unknown, ...args: unknown[]) {
    return fn.apply(this, args);
  };
  Object.defineProperty(handle, 'name', { value: name, configurable: true });
  Object.defineProperty(handle, TASK, {
    value: Object.freeze({ kind: 'module', module, exportName: name, defined: true }),
  });
  // The worker calls the original function, without the wrapper.
  Object.defineProperty(handle, FN, { value: fn });
  return handle as unknown as TaskHandle<F>;
}

/**
 * Refer to an export of a module the worker can import (ESM or CommonJS):
 * `task<typeof import('./jobs.js').resize>(new URL('./jobs.js', import.meta.url), 'resize')`.
 */
export function task<F extends TaskFunction = TaskFunction>(
  module: string | URL,
  exportName = 'default',
): TaskRef<F> {
  const href = moduleHref(module, 'module');
  checkName(exportName, 'exportName');
  return Object.freeze({
    [TASK]: Object.freeze({ kind: 'module', module: href, exportName }),
  }) as TaskRef<F>;
}

const sourceSpecs = new WeakMap<object, TaskSpec>();
const parsed = new Map<string, boolean>();

function parsesAsExpression(source: string): boolean {
  let ok = parsed.get(source);
  if (ok === undefined) {
    try {
      // Compiles without running: a method (`foo() {}`) is not an expression.
      // eslint-disable-next-line @typescript-eslint/no-implied-eval
      new Function(`return (${source}\n)`);
      ok = true;
    } catch {
      ok = false;
    }
    if (parsed.size > 1_000) parsed.clear();
    parsed.set(source, ok);
  }
  return ok;
}

/** The spec a worker needs to load `fn`, validated once per function object. */
export function specOf(fn: unknown, what = 'fn'): TaskSpec {
  if (fn !== null && (typeof fn === 'object' || typeof fn === 'function')) {
    const ref = (fn as Partial<TaskRef>)[TASK];
    if (ref !== undefined) return ref;
    const cached = sourceSpecs.get(fn);
    if (cached !== undefined) return cached;
  }
  if (typeof fn !== 'function') {
    throw new TypeError(
      `Expected \`${what}\` to be a function, a defineTask() handle or a task() reference, got ${show(fn)}`,
    );
  }
  const source = Function.prototype.toString.call(fn);
  const label = fn.name ? `\`${fn.name}\`` : 'an anonymous function';
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
    throw new TypeError(
      `Expected \`${what}\` to be a self-contained function, got ${label}, which is native or bound and has no source to send; use defineTask() or task()`,
    );
  }
  if (/^class\b/.test(source)) {
    throw new TypeError(`Expected \`${what}\` to be a function, got the class ${label}`);
  }
  if (!parsesAsExpression(source)) {
    throw new TypeError(
      `Expected \`${what}\` to be a self-contained function, got the method ${label}, whose source is not a function expression; use a function or an arrow, or defineTask()`,
    );
  }
  const spec: TaskSpec = { kind: 'source', source };
  sourceSpecs.set(fn, spec);
  return spec;
}

/**
 * Child side: turn a TaskSpec into a callable, once per spec. Module tasks are
 * imported; function tasks are compiled from their source with shims for the
 * names that tools inject when they rewrite code (tsx/esbuild's `__name`,
 * vitest's `__vite_ssr_dynamic_import__`), a `require` and an `import()` that
 * resolve from the pool's cwd.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { importModule } from '../shared/dynamic-import.js';
import { importingTaskModule } from '../shared/nesting.js';
import type { TaskSpec } from '../shared/protocol.js';
import { FN, TASK } from '../shared/task.js';

type Callable = (...args: unknown[]) => unknown;

export class TaskLoader {
  readonly #modules = new Map<string, Callable>();
  readonly #sources = new Map<string, Callable>();
  readonly #cwd: string;
  #cwdRequire: NodeJS.Require | undefined;
  #cwdShims: unknown[] | undefined;

  constructor(cwd: string) {
    this.#cwd = cwd;
  }

  /**
   * A `require` that resolves from the pool's cwd. Made on first use: only
   * function tasks need it, and node:module costs a worker's start ~0.3 ms.
   */
  get #require(): NodeJS.Require {
    return (this.#cwdRequire ??= createRequire(join(this.#cwd, '[deadpool-task].js')));
  }

  /** What a function task's source is compiled with (see the file's comment). */
  get #shims(): unknown[] {
    if (this.#cwdShims !== undefined) return this.#cwdShims;
    const cwd = this.#cwd;
    const importFromCwd = (specifier: unknown): Promise<unknown> =>
      importModule(this.#resolve(String(specifier)));
    const name = (fn: unknown, value: string): unknown => {
      try {
        Object.defineProperty(fn, 'name', { value, configurable: true });
      } catch {
        // a frozen function keeps its name
      }
      return fn;
    };
    const importMeta = { url: pathToFileURL(join(cwd, '[deadpool-task].js')).href, dirname: cwd };
    return (this.#cwdShims = [name, importFromCwd, importMeta, this.#require, importFromCwd, cwd]);
  }

  /** Bare and relative specifiers resolve from the pool's cwd when `require` can find them. */
  #resolve(specifier: string): string {
    if (
      specifier.startsWith('node:') ||
      specifier.startsWith('file:') ||
      specifier.startsWith('data:')
    ) {
      return specifier;
    }
    try {
      return pathToFileURL(this.#require.resolve(specifier)).href;
    } catch {
      return specifier;
    }
  }

  load(spec: TaskSpec): Callable | Promise<Callable> {
    if (spec.kind === 'source') return this.#compile(spec.source);
    const key = `${spec.module}\0${spec.exportName}`;
    return (
      this.#modules.get(key) ??
      this.#import(spec.module, spec.exportName, spec.defined === true, key)
    );
  }

  /**
   * Import `module` ahead of its tasks (warm.ts); never rejects. A failure
   * is left for the task that needs the module, whose own import fails the same way.
   */
  warm(module: string): Promise<void> {
    return importingTaskModule(module, () => importModule(module)).then(
      () => {},
      () => {},
    );
  }

  async #import(
    module: string,
    exportName: string,
    defined: boolean,
    key: string,
  ): Promise<Callable> {
    // A pool created while the module loads would make workers without end: refused.
    const ns = await importingTaskModule(module, () =>
      importModule<Record<string, unknown>>(module),
    );
    let value = ns[exportName];
    // CommonJS exports that Node's lexer could not name live on `default`.
    if (value === undefined && exportName !== 'default' && ns.default != null) {
      value = (ns.default as Record<string, unknown>)[exportName];
    }
    if (typeof value !== 'function') {
      throw new TypeError(
        `export \`${exportName}\` of ${module} is not a function (got ${typeof value})` +
          (defined ? nameHint(ns, exportName) : ''),
      );
    }
    const brand = brandOf(value);
    if (defined && brand === undefined) {
      throw new TypeError(
        `export \`${exportName}\` of ${module} is not a task made by defineTask()${nameHint(ns, exportName)}`,
      );
    }
    if (brand !== undefined && brand.exportName !== exportName) {
      throw new TypeError(
        `export \`${exportName}\` of ${module} is the task defined as \`${brand.exportName}\`; defineTask()'s name must match the export's name`,
      );
    }
    const fn = ((value as unknown as Record<symbol, Callable | undefined>)[FN] ??
      value) as Callable;
    this.#modules.set(key, fn);
    return fn;
  }

  #compile(source: string): Callable {
    let fn = this.#sources.get(source);
    if (fn === undefined) {
      // `import(` is rewritten so it resolves from cwd; `.import(` and `import.meta` are left alone.
      const body = source.replace(/(?<![\w$.])import\s*\((?!\s*\))/g, '__deadpool_import__(');
      // Compiling the sent source is the point of a function task.
      // eslint-disable-next-line @typescript-eslint/no-implied-eval
      const factory = new Function(
        '__name',
        '__vite_ssr_dynamic_import__',
        '__vite_ssr_import_meta__',
        'require',
        '__deadpool_import__',
        '__dirname',
        `"use strict";\nreturn (${body}\n);`,
      ) as (...shims: unknown[]) => Callable;
      fn = factory(...this.#shims);
      if (this.#sources.size > 1_000) this.#sources.clear();
      this.#sources.set(source, fn);
    }
    return fn;
  }
}

function brandOf(value: unknown): { exportName: string } | undefined {
  if (typeof value !== 'function') return undefined;
  return (value as unknown as Record<symbol, { exportName: string } | undefined>)[TASK];
}

/**
 * A task defined as `name` was not found under that export: the name given
 * to defineTask() must be its export's name. Say under which export the task
 * is, or which exports the module has.
 */
function nameHint(ns: Record<string, unknown>, name: string): string {
  const rule = `: the name given to defineTask() must equal the name of its export`;
  const holder = Object.keys(ns).find((key) => brandOf(ns[key])?.exportName === name);
  if (holder !== undefined) {
    return `${rule}; the task defined as \`${name}\` is exported as \`${holder}\`, so write defineTask(import.meta.url, '${holder}', ...)`;
  }
  const exports = Object.keys(ns).filter((key) => key !== 'default' || ns[key] !== undefined);
  const listed = exports.slice(0, 20).map((key) => `\`${key}\``);
  if (exports.length > 20) listed.push(`and ${exports.length - 20} more`);
  return `${rule}; the module exports ${listed.length > 0 ? listed.join(', ') : 'nothing'}`;
}

/**
 * A ReferenceError from a function task usually means it used a variable of
 * the scope it was written in. Say so, and point to defineTask().
 */
export function explainReferenceError(error: unknown, spec: TaskSpec): void {
  if (spec.kind !== 'source' || !(error instanceof ReferenceError)) return;
  const match = /^(\S+) is not defined$/.exec(error.message);
  if (!match) return;
  const hint =
    `${error.message}: a function task is sent to the worker as source text, so it cannot use \`${match[1]}\` ` +
    'from the scope it was written in. Pass the value as an argument, import it inside the function, ' +
    'or define the task in a module with defineTask() (task form 1)';
  if (typeof error.stack === 'string') error.stack = error.stack.replace(error.message, hint);
  error.message = hint;
}

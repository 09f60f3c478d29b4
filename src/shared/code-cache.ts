/**
 * A V8 code cache of the package's own code: the pool's bundle (imported by
 * `deadpool` and `deadpool/bullmq`) and the worker's. `npm run build` turns
 * each bundle into a script body (`*.vm.cjs`) and a small ES module that runs
 * it through `runCached()` (scripts/bundle.mjs). Run with the cache, V8 does
 * not parse the bundle again nor compile, at its first call, each function
 * that was compiled when the cache was made: a process's first pool, first
 * task, first crash and first shutdown run code that ran before
 * (docs/performance.md, "Code cache").
 *
 * The cache is a file per bundle, Node version, architecture and set of
 * flags the process was started with (`flagsTag()`), in a directory of this
 * user's only (`DEADPOOL_CODE_CACHE`, docs/api.md, "Code cache"). A process
 * that found no usable file writes one once, with `saveCodeCache()`: the
 * pool's process a second after its first future settled or when its first
 * shutdown is done, whichever comes first (src/parent/engine.ts); a worker
 * when idle or when it retires. Every failure here is silent: the bundle
 * then runs without a cache, as an ES module import would. Nothing here touches the
 * user's own modules (Node's `module.enableCompileCache()` would, for the
 * whole process).
 */
import type { Script } from 'node:vm';

/** State shared by every copy of this module in the process (the loaders and the bundles). */
interface Registry {
  /** The directory, or '' when the cache is off or unusable here. */
  dir: string | undefined;
  /** Scripts that ran without a usable cache file, and the file to write for each. */
  pending: { script: Script; file: string; name: string }[];
  /** How each script was run, for debug output. */
  log: string[];
  /** How much of `log` has been handed out (codeCacheNews). */
  told: number;
}

const REGISTRY = Symbol.for('deadpool.codeCache');

function registry(): Registry {
  const slots = globalThis as Record<symbol, Registry | undefined>;
  return (slots[REGISTRY] ??= { dir: undefined, pending: [], log: [], told: 0 });
}

/** What the environment variable says: off, a directory, or the default. */
export function configuredDir(env: string | undefined, tmp: string, uid: number): string {
  if (env === undefined || env === '') return `${tmp}/deadpool-code-cache-${uid}`;
  if (/^(off|0|false|no)$/i.test(env)) return '';
  return env;
}

/**
 * The cache directory, made if missing, or '' when off or not private: it
 * must be a real directory (no symlink) owned by this user, that no one else
 * may read or write, since V8 trusts what it loads from it.
 */
export function cacheDir(): string {
  const state = registry();
  if (state.dir !== undefined) return state.dir;
  const { mkdirSync, lstatSync } = process.getBuiltinModule('node:fs');
  const { tmpdir } = process.getBuiltinModule('node:os');
  const uid = process.getuid?.() ?? -1;
  let dir = configuredDir(process.env.DEADPOOL_CODE_CACHE, tmpdir(), uid);
  if (dir !== '') {
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch {
      // there already (checked below), or not possible (then lstat fails)
    }
    try {
      const stat = lstatSync(dir);
      if (!stat.isDirectory() || stat.uid !== uid || (stat.mode & 0o077) !== 0) {
        state.log.push(`code cache: ${dir} is not a directory of this user's only; not used`);
        dir = '';
      }
    } catch {
      dir = '';
    }
  }
  state.dir = dir;
  return dir;
}

/**
 * What names the file after the bundle, its build, Node's version and the
 * architecture: the flags the process was started with. Some V8 flags
 * (`--expose-gc`, `--stack-size`, `--trace-gc`, …) make V8 reject a cache
 * written under others, so two programs on one machine, one with such a
 * flag, would each reject the other's file and write it again at every
 * start. Flag names only, without values: an inspector's port or a
 * profile's directory would otherwise make a file per run. '' without flags.
 */
export function flagsTag(execArgv: readonly string[], nodeOptions: string | undefined): string {
  const names = new Set<string>();
  for (const arg of [...execArgv, ...(nodeOptions ?? '').split(/\s+/)]) {
    if (arg.startsWith('-')) names.add(arg.replace(/=.*$/s, '').replaceAll('_', '-'));
  }
  if (names.size === 0) return '';
  // FNV-1a: a name, not a secret (a collision costs a rejected file, written again).
  const text = [...names].sort().join(' ');
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return `-f${(hash >>> 0).toString(16).padStart(8, '0')}`;
}

/** Set the directory (a worker takes its pool's, from its boot settings). */
export function useCacheDir(dir: string): void {
  registry().dir = dir;
}

/** What a script body exports: the bundle, as a function of its `import.meta.url` and importer. */
type Body = (
  url: string,
  importer: (specifier: string) => Promise<unknown>,
) => Record<string, unknown>;

/**
 * Run a script body (a script whose value is the bundle as a function,
 * scripts/bundle.mjs) with its cache file if there is a usable one. `name`
 * and `key` (the body's hash) name the file; `url` is what the body takes
 * for `import.meta.url`. With source maps on (`--enable-source-maps`,
 * NODE_V8_COVERAGE) the body is loaded by Node's require() instead, without
 * the cache, so that stack traces and coverage map to the sources.
 */
export function runCached(
  body: URL,
  name: string,
  key: string,
  url: string,
  importer: (specifier: string) => Promise<unknown>,
): Record<string, unknown> {
  const { fileURLToPath } = process.getBuiltinModule('node:url');
  const filename = fileURLToPath(body);
  const state = registry();
  if (process.sourceMapsEnabled || process.env.NODE_V8_COVERAGE) {
    state.log.push(`code cache: ${name} loaded by require() (source maps are on)`);
    const { createRequire } = process.getBuiltinModule('node:module');
    return (createRequire(filename)(filename) as { body: Body }).body(url, importer);
  }
  const { readFileSync } = process.getBuiltinModule('node:fs');
  const { Script } = process.getBuiltinModule('node:vm');
  const dir = cacheDir();
  const flags = flagsTag(process.execArgv, process.env.NODE_OPTIONS);
  const file =
    dir === '' ? '' : `${dir}/${name}-${key}-${process.version}-${process.arch}${flags}.bin`;
  let cachedData: Buffer | undefined;
  if (file !== '') {
    try {
      cachedData = readFileSync(file);
    } catch {
      // none yet
    }
  }
  // As read: the build keeps it ASCII, so V8 holds it in one byte a character, once.
  const script = new Script(readFileSync(filename, 'latin1'), { filename, cachedData });
  if (file === '') state.log.push(`code cache: ${name} run without (off)`);
  else if (cachedData !== undefined && !script.cachedDataRejected) {
    state.log.push(`code cache: ${name} run with ${file}`);
  } else {
    state.log.push(
      `code cache: ${name} run without (${cachedData ? 'V8 rejected' : 'no'} ${file})`,
    );
    state.pending.push({ script, file, name });
  }
  return (script.runInThisContext() as Body)(url, importer);
}

/**
 * Write the cache files this process found missing or unusable, once: what
 * V8 compiled by now goes in. Written to a temporary name and renamed, so a
 * reader never sees half a file; then the bundle's oldest files beyond
 * KEEP_PER_BUNDLE go (`pruneCacheDir`). Returns the lines to log.
 */
export function saveCodeCache(): string[] {
  const state = registry();
  const done: string[] = [];
  if (state.pending.length === 0) return done;
  const { writeFileSync, renameSync, rmSync } = process.getBuiltinModule('node:fs');
  for (const { script, file, name } of state.pending.splice(0)) {
    const temp = `${file}.${process.pid}.tmp`;
    try {
      writeFileSync(temp, script.createCachedData(), { mode: 0o600 });
      renameSync(temp, file);
      done.push(`code cache: wrote ${file}`);
      const dir = file.slice(0, file.lastIndexOf('/'));
      for (const old of pruneCacheDir(dir, name)) done.push(`code cache: removed ${dir}/${old}`);
    } catch (error) {
      try {
        rmSync(temp, { force: true });
      } catch {
        // nothing to remove
      }
      done.push(`code cache: could not write ${file}: ${String(error)}`);
    }
  }
  return done;
}

/**
 * How many cache files of one bundle are kept: every build, Node version,
 * architecture and set of flags writes one of its own, and none is ever
 * rewritten while it works, so the directory would otherwise only grow.
 */
export const KEEP_PER_BUNDLE = 8;

/** A temporary file older than this was left by a writer that died before its rename. */
export const ORPHAN_TEMP_MS = 60_000;

/**
 * Remove `bundle`'s cache files in `dir` beyond the KEEP_PER_BUNDLE most
 * recently written, and its temporary files older than ORPHAN_TEMP_MS.
 * Runs after a write only, so a process that finds its files never lists
 * the directory. A file removed while another process reads it was read
 * whole or not at all (that process then runs without, and writes it
 * again). Returns the names removed; a failure leaves the file.
 */
export function pruneCacheDir(dir: string, bundle: string): string[] {
  const { readdirSync, statSync, rmSync } = process.getBuiltinModule('node:fs');
  const removed: string[] = [];
  const remove = (name: string): void => {
    try {
      rmSync(`${dir}/${name}`, { force: true });
      removed.push(name);
    } catch {
      // left for a later write
    }
  };
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  const now = Date.now();
  const files: { name: string; written: number }[] = [];
  for (const name of names) {
    if (!name.startsWith(`${bundle}-`)) continue;
    let written: number;
    try {
      written = statSync(`${dir}/${name}`).mtimeMs;
    } catch {
      continue; // removed meanwhile
    }
    if (name.endsWith('.tmp')) {
      if (now - written > ORPHAN_TEMP_MS) remove(name);
    } else if (name.endsWith('.bin')) {
      files.push({ name, written });
    }
  }
  files.sort((a, b) => b.written - a.written);
  for (const { name } of files.slice(KEEP_PER_BUNDLE)) remove(name);
  return removed;
}

/** What this process's bundles did with the cache since the last call (debug output). */
export function codeCacheNews(): string[] {
  const state = registry();
  const news = state.log.slice(state.told);
  state.told = state.log.length;
  return news;
}

/**
 * The few file operations containment needs on a cgroup filesystem, behind
 * an interface so the probing and path logic can be tested against fake
 * trees in temporary directories. Every operation but one is synchronous
 * and small: cgroupfs files are read and written whole in one call. The one
 * is a worker's move, which can wait on the kernel (writeAsync).
 */
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeFile,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

export interface CgroupFs {
  /** The file's text, or undefined when it cannot be read. */
  read(path: string): string | undefined;
  /** Write `text` in one write; throws the errno error. */
  write(path: string, text: string): void;
  /** The same on libuv's thread pool, off the event loop (a cgroup move can wait on the kernel); rejects with the errno error. */
  writeAsync(path: string, text: string): Promise<void>;
  exists(path: string): boolean;
  /** Why `dir` is not writable (`EROFS`, `EACCES`, `ENOENT`...), or undefined when it is. */
  notWritable(dir: string): string | undefined;
  /** Create `dir`; an existing one is fine. */
  mkdir(dir: string): void;
  /** Remove an empty `dir`; throws the errno error (`EBUSY` while populated). */
  rmdir(dir: string): void;
  /** The names of `dir`'s subdirectories; [] when it cannot be read. */
  subdirs(dir: string): string[];
}

function code(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}

export const hostFs: CgroupFs = {
  read(path) {
    try {
      return readFileSync(path, 'latin1');
    } catch {
      return undefined;
    }
  },
  write(path, text) {
    writeFileSync(path, text);
  },
  writeAsync(path, text) {
    // A callback, not node:fs/promises, which costs ~1.3 ms to load at import.
    return new Promise((resolve, reject) =>
      writeFile(path, text, (error) => (error ? reject(error) : resolve())),
    );
  },
  exists: existsSync,
  notWritable(dir) {
    try {
      accessSync(dir, constants.W_OK);
      return undefined;
    } catch (error) {
      return code(error);
    }
  },
  mkdir(dir) {
    try {
      mkdirSync(dir);
    } catch (error) {
      if (code(error) !== 'EEXIST') throw error;
    }
  },
  rmdir(dir) {
    rmdirSync(dir);
  },
  subdirs(dir) {
    try {
      return readdirSync(dir, { withFileTypes: true })
        .filter((entry) => entry.isDirectory())
        .map((entry) => entry.name);
    } catch {
      return [];
    }
  },
};

/** Every directory under `dir` (itself included), deepest first: the order rmdir needs. */
export function deepestFirst(fs: CgroupFs, dir: string): string[] {
  const out: string[] = [];
  for (const name of fs.subdirs(dir)) out.push(...deepestFirst(fs, join(dir, name)));
  out.push(dir);
  return out;
}

/**
 * Remove `dir` and the cgroups nested in it (a pool made inside a task nests
 * its own), deepest first. True when nothing of it is left.
 */
export function removeTree(fs: CgroupFs, dir: string): boolean {
  for (const path of deepestFirst(fs, dir)) {
    try {
      fs.rmdir(path);
    } catch (error) {
      if (code(error) !== 'ENOENT') return false;
    }
  }
  return true;
}

/** A `key value` line of a flat-keyed cgroup file (cpu.stat, memory.events, memory.oom_control). */
export function keyed(text: string | undefined, key: string): number | undefined {
  if (text === undefined) return undefined;
  for (const line of text.split('\n')) {
    const space = line.indexOf(' ');
    if (space > 0 && line.slice(0, space) === key) return Number(line.slice(space + 1));
  }
  return undefined;
}

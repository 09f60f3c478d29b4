/**
 * A worker's stdout and stderr as the pool reads them: the last 4 KB of
 * stderr (for ProcessError), and, when `onWorkerOutput` is given, every line
 * of both streams with the pid and the running task's name instead of the
 * parent's stdio. Without it stderr is echoed to the parent's stderr (stdout
 * is inherited and never reaches here).
 */
import type { Readable } from 'node:stream';
import type { WorkerOutput } from './options.js';

const STDERR_TAIL_BYTES = 4_096;
/** A line longer than this is passed on in parts. */
const MAX_LINE = 65_536;

export class OutputReader {
  readonly #pid: number;
  readonly #onLine: ((info: WorkerOutput) => void) | undefined;
  readonly #taskName: () => string | undefined;
  #tail = '';

  constructor(
    pid: number,
    onLine: ((info: WorkerOutput) => void) | undefined,
    taskName: () => string | undefined,
  ) {
    this.#pid = pid;
    this.#onLine = onLine;
    this.#taskName = taskName;
  }

  /** The last 4 KB the worker wrote to stderr. */
  get stderrTail(): string {
    return this.#tail;
  }

  read(stream: Readable | null, name: 'stdout' | 'stderr'): void {
    if (!stream) return;
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      if (name === 'stderr') this.#tail = (this.#tail + chunk).slice(-STDERR_TAIL_BYTES);
      if (!this.#onLine) {
        process.stderr.write(chunk);
        return;
      }
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) this.#emit(name, line.endsWith('\r') ? line.slice(0, -1) : line);
      while (partial.length > MAX_LINE) {
        this.#emit(name, partial.slice(0, MAX_LINE));
        partial = partial.slice(MAX_LINE);
      }
    });
    stream.on('end', () => {
      if (partial !== '') this.#emit(name, partial);
      partial = '';
    });
  }

  #emit(stream: 'stdout' | 'stderr', line: string): void {
    try {
      this.#onLine!({ pid: this.#pid, stream, line, taskName: this.#taskName() });
    } catch (error) {
      process.emitWarning(`deadpool's onWorkerOutput threw: ${String(error)}`, {
        code: 'DEADPOOL_LISTENER',
      });
    }
  }
}

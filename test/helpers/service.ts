/**
 * The service example (examples/service/server.mjs, README "Serving
 * requests") as a child of the test: on a free loopback port, its JSON log
 * lines parsed; `stop()` sends SIGTERM (the server closes, then the pool) and
 * resolves with its 'final statistics' log entry once it has exited.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DeadpoolStatistics } from '../../dist/index.js';

const SERVER = fileURLToPath(new URL('../../examples/service/server.mjs', import.meta.url));

export interface ExampleService {
  readonly pid: number;
  /** `http://127.0.0.1:PORT`, once it listens. */
  readonly ready: Promise<string>;
  stderr(): string;
  /** The JSON log lines so far. */
  logs(): Record<string, unknown>[];
  /** SIGTERM, then the exit; SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    statistics: DeadpoolStatistics | undefined;
  }>;
}

/** Start the service with SERVICE_FAULTS=1 and `env` (examples/service/config.mjs). */
export function startExampleService(env: Record<string, string>): ExampleService {
  const child = spawn(process.execPath, [SERVER], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', SERVICE_FAULTS: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  let partial = '';
  let onLog = (_entry: Record<string, unknown>): void => {};
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (!line.startsWith('{')) continue; // the banner
      const entry = JSON.parse(line) as Record<string, unknown>;
      logs.push(entry);
      onLog(entry);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<string>((resolve, reject) => {
    onLog = (entry) => {
      if (entry.msg === 'service ready') resolve(`http://127.0.0.1:${String(entry.port)}`);
    };
    void exited.then(({ code, signal }) =>
      reject(new Error(`the service exited first (${code}, ${signal}): ${stderr.slice(-2000)}`)),
    );
  });
  ready.catch(() => {}); // a caller awaiting stop() alone must not see it unhandled
  return {
    pid: child.pid!,
    ready,
    stderr: () => stderr,
    logs: () => logs,
    async stop(graceMs = 30_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const { code, signal } = await exited;
      clearTimeout(timer);
      const final = logs.find((entry) => entry.msg === 'final statistics');
      return { code, signal, statistics: final?.statistics as DeadpoolStatistics | undefined };
    },
  };
}

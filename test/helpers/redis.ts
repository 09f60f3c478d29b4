/**
 * A real Redis for the BullMQ tests. `describeWithRedis` starts a
 * redis-server of its own on a free loopback port, as a child of the test
 * process (no persistence, `noeviction` as BullMQ needs), before the file's
 * tests, and stops it and waits until it is gone after them. Without
 * redis-server on PATH the tests are skipped locally, saying so; in CI
 * (`CI=true`) a missing redis-server fails instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { isAlive, keepAcrossTests } from './processes.js';
import { findOnPath, freePort } from './tools.js';

export interface RedisServer {
  readonly port: number;
  readonly pid: number;
  /** Connection options for BullMQ. */
  readonly connection: { host: string; port: number };
  stop(): Promise<void>;
}

/** The redis-server executable on PATH, if any. */
export function findRedisServer(): string | undefined {
  return findOnPath('redis-server');
}

/** Resolves when the server says it is ready; rejects with its output if it exits first. */
function ready(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => fail(`not ready within ${timeoutMs} ms`), timeoutMs);
    const fail = (why: string): void => {
      clearTimeout(timer);
      reject(new Error(`redis-server ${why}: ${output.slice(-2000)}`));
    };
    const onData = (chunk: string): void => {
      output += chunk;
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.setEncoding('utf8').on('data', onData);
    child.stderr?.setEncoding('utf8').on('data', onData);
    child.once('exit', (code, signal) => fail(`exited (code ${code}, signal ${signal})`));
  });
}

/** Start a redis-server on a free loopback port; retried if the port was taken meanwhile. */
export async function startRedis(binary = findRedisServer()): Promise<RedisServer> {
  if (binary === undefined) throw new Error('redis-server is not installed');
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', ''];
    args.push('--appendonly', 'no', '--maxmemory-policy', 'noeviction');
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await ready(child, 10_000);
    } catch (error) {
      lastError = error;
      child.kill('SIGKILL');
      await exited;
      continue;
    }
    const pid = child.pid!;
    const release = keepAcrossTests(pid);
    return {
      port,
      pid,
      connection: { host: '127.0.0.1', port },
      async stop() {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await exited;
          clearTimeout(timer);
        }
        release();
        if (isAlive(pid)) throw new Error(`redis-server ${pid} is still alive after stop()`);
      },
    };
  }
  throw lastError;
}

/**
 * `describe` with a Redis of its own for the whole block; `redis()` gives it
 * inside tests and hooks.
 */
export function describeWithRedis(title: string, body: (redis: () => RedisServer) => void): void {
  const binary = findRedisServer();
  if (binary === undefined) {
    const why =
      'redis-server is not on PATH; install it (Debian/Ubuntu: apt-get install redis-server)';
    if (process.env.CI === 'true') {
      describe(title, () => {
        it('finds redis-server (required in CI)', () => {
          throw new Error(`${why}. In CI a missing Redis is a failure, not a skip.`);
        });
      });
      return;
    }
    console.warn(`[deadpool] skipping "${title}": ${why}.`);
    describe.skip(title, () => body(() => missing()));
    return;
  }
  describe(title, () => {
    let server: RedisServer | undefined;
    beforeAll(async () => {
      server = await startRedis(binary);
    });
    afterAll(async () => {
      await server?.stop();
    });
    body(() => server ?? missing());
  });
}

function missing(): never {
  throw new Error('Redis is not running');
}

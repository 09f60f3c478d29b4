/**
 * docs/api.md "Options": an idle pool does not keep the Node.js process alive; a pool with
 * waiting or running tasks does. The pool lives in a separate Node.js process
 * (test/fixtures/core/keep-alive.mjs) that never calls shutdown.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { expectAllGone, fixture } from './helpers/index.js';

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  workers: number[];
}

/** Runs the script and resolves when it exits by itself; SIGKILLs it after `limitMs`. */
function runScript(mode: 'idle' | 'busy', limitMs = 15_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(fixture('core/keep-alive.mjs')), mode], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const workers = [...stdout.matchAll(/^worker (\d+)$/gm)].map((m) => Number(m[1]));
      resolve({ code, signal, stdout, workers });
    });
  });
}

describe('keeping the process alive', () => {
  test('an idle pool does not keep the Node.js process alive', async () => {
    const run = await runScript('idle');
    expect(run.signal, 'the script had to be killed: the idle pool kept it alive').toBeNull();
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('end of script');
    expect(run.workers).toHaveLength(2);
    // The workers follow their parent out (docs/guarantees.md).
    await expectAllGone(run.workers, 5_000);
  });

  test('a pool with a running task keeps the process alive until the task is done', async () => {
    const run = await runScript('busy');
    expect(run.signal, 'the script had to be killed').toBeNull();
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toContain('result done');
    expect(lines.indexOf('result done')).toBeGreaterThan(lines.indexOf('end of script'));
    await expectAllGone(run.workers, 5_000);
  });
});

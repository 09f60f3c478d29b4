// The tasks every machine of the example registers. MACHINE is set by
// machine.mjs and inherited by its pool's workers.
import { spawn } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { defineTask, reportProgress } from 'deadpool/task';

/** "Renders" a frame: keeps a helper process (as ffmpeg would) for `ms`, reporting progress. */
export const render = defineTask(import.meta.url, 'render', async (frame, ms) => {
  const helper = spawn('sleep', ['60'], { stdio: 'ignore' });
  for (let step = 1; step <= 4; step++) {
    await delay(ms / 4);
    reportProgress(step * 25);
  }
  helper.kill();
  return { frame, machine: process.env.MACHINE, pid: process.pid };
});

/** Never ends: its job timeout kills it (and its helper) on whichever machine runs it. */
export const stuck = defineTask(import.meta.url, 'stuck', () => {
  spawn('sleep', ['60'], { stdio: 'ignore' });
  return new Promise(() => {});
});

import { describe, expect, test } from 'vitest';
import { Stats } from '../src/parent/stats.js';

const none = { starting: 0, idle: 0, busy: 0, retiring: 0 };

describe('Stats', () => {
  test('the busy high-water mark only rises', () => {
    const stats = new Stats();
    stats.noteBusy(2);
    stats.noteBusy(1);
    stats.noteBusy(3);
    stats.noteBusy(0);
    expect(stats.snapshot(none, 0).maxWorkersBusyConcurrently).toBe(3);
  });

  test('percentiles cover the last 1,024 samples only', () => {
    const stats = new Stats();
    for (let i = 0; i < 1_024; i++) stats.runTime.add(1_000);
    for (let i = 1; i <= 1_024; i++) stats.runTime.add(i);
    const p = stats.snapshot(none, 0).runTimeMs;
    expect(p.max).toBe(1_024);
    expect(p.p50).toBe(513);
    expect(p.p99).toBe(1_014);
  });

  test('a snapshot is a plain copy that later counting does not change', () => {
    const stats = new Stats();
    const before = stats.snapshot({ ...none, idle: 1 }, 0);
    stats.exits.crashed++;
    stats.received++;
    expect(before.workerExits.crashed).toBe(0);
    expect(before.tasksReceived).toBe(0);
    expect(stats.snapshot({ ...none, idle: 1 }, 0).workerExits.crashed).toBe(1);
  });

  test('workers still alive are the starting, idle, busy and retiring ones', () => {
    const snapshot = new Stats().snapshot({ starting: 1, idle: 2, busy: 3, retiring: 4 }, 5);
    expect(snapshot).toMatchObject({
      workerProcessesStillAlive: 10,
      workerProcessesStarting: 1,
      workerProcessesIdle: 2,
      workerProcessesBusy: 3,
      workerProcessesRetiring: 4,
      backlogSize: 5,
    });
  });
});

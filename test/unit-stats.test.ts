import { describe, expect, test } from 'vitest';
import { Stats } from '../src/parent/stats.js';

describe('Stats', () => {
  test('the busy high-water mark only rises', () => {
    const stats = new Stats();
    stats.noteBusy(2);
    stats.noteBusy(1);
    stats.noteBusy(3);
    stats.noteBusy(0);
    expect(stats.snapshot(0, 0, 0, 0).maxWorkersBusyConcurrently).toBe(3);
  });

  test('percentiles cover the last 1,024 samples only', () => {
    const stats = new Stats();
    for (let i = 0; i < 1_024; i++) stats.runTime.add(1_000);
    for (let i = 1; i <= 1_024; i++) stats.runTime.add(i);
    const p = stats.snapshot(0, 0, 0, 0).runTimeMs;
    expect(p.max).toBe(1_024);
    expect(p.p50).toBe(513);
    expect(p.p99).toBe(1_014);
  });

  test('a snapshot is a plain copy that later counting does not change', () => {
    const stats = new Stats();
    const before = stats.snapshot(1, 1, 0, 0);
    stats.exits.crashed++;
    stats.received++;
    expect(before.workerExits.crashed).toBe(0);
    expect(before.tasksReceived).toBe(0);
    expect(stats.snapshot(1, 1, 0, 0).workerExits.crashed).toBe(1);
  });
});

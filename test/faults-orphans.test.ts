/**
 * No orphans on any death (docs/guarantees.md): when a worker dies during a
 * task in a way the pool did not decide (SIGKILL from outside, process.exit(),
 * a fatal error), the task's processes go with it. A worker that exits by
 * itself kills its whole tree first; one killed from outside takes its
 * process group with it, and only a child in its own session is beyond reach.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProcessError } from '../dist/index.js';
import { twice } from './fixtures/faults/basic.mjs';
import { treeAndExit, treeAndSpin, treeAndThrow } from './fixtures/faults/tree.mjs';
import {
  expectAllGone,
  isAlive,
  killAfterTest,
  killChild,
  makePool,
  readMarker,
  rejection,
  tempDir,
} from './helpers/index.js';

/** The marker's [plain, detached, setsid] grandchildren, all alive now. */
async function grandchildren(markerPath: string): Promise<{ worker: number; kids: number[] }> {
  const marker = await readMarker(markerPath);
  killAfterTest(marker.identities);
  expect(marker.grandchildren).toHaveLength(3);
  expect(marker.grandchildren.every(isAlive)).toBe(true);
  return { worker: marker.pid, kids: marker.grandchildren };
}

describe('a worker that dies during a task takes the task’s processes with it', () => {
  it('SIGKILLed from outside: its process group is killed at once; shutdown leaves nothing of it', async () => {
    // The process group's reach; under kernel containment nothing survives (containment tests).
    const { pool } = makePool({ maxWorkers: 1, containment: 'process-group' });
    const marker = join(tempDir(), 'tree.json');
    const task = pool.submit(treeAndSpin, [marker]);
    const { worker, kids } = await grandchildren(marker);
    const [plain, detached, setsid] = kids as [number, number, number];
    expect(killChild(worker)).toBe(true);
    const error = await rejection(task);
    expect(error).toBeInstanceOf(ProcessError);
    expect(error).toMatchObject({ pid: worker, signal: 'SIGKILL' });
    await expectAllGone([worker, plain], 3_000);
    await pool.shutdown();
    expect(isAlive(plain)).toBe(false);
    // Children in their own session left the group and, once the worker is
    // gone, cannot be found (docs/guarantees.md says so); the afterEach kills them.
    expect([detached, setsid].every(isAlive)).toBe(true);
  });

  it('by process.exit(): its whole tree goes first, children in their own session included', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const marker = join(tempDir(), 'tree.json');
    const task = pool.submit(treeAndExit, [marker, 3]);
    const error = await rejection(task);
    const { grandchildren: kids, pid: worker, identities } = await readMarker(marker);
    killAfterTest(identities);
    expect(error).toMatchObject({ pid: worker, exitCode: 3 });
    await expectAllGone([worker, ...kids], 3_000);
    expect((await pool.submit(twice, [4])).value).toBe(9);
  });

  it('by a fatal error left behind: its whole tree goes first', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const marker = join(tempDir(), 'tree.json');
    const task = pool.submit(treeAndThrow, [marker]);
    const error = await rejection(task);
    const { grandchildren: kids, pid: worker, identities } = await readMarker(marker);
    killAfterTest(identities);
    expect(error).toBeInstanceOf(ProcessError);
    expect((error as Error).message).toMatch(/uncaught exception .*fatal error after starting/);
    await expectAllGone([worker, ...kids], 3_000);
  });
});

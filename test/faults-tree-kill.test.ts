/**
 * Killing a worker kills its whole process tree: grandchildren started plainly,
 * with `detached: true` (their own session) and under setsid(1) are all gone
 * after a timeout and after cancelAndKill.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CancelledError, TimeoutError } from '../dist/index.js';
import { twice } from './fixtures/faults/basic.mjs';
import { leaveTree, treeAndHang, treeAndSpin } from './fixtures/faults/tree.mjs';
import {
  descendantsOf,
  exists,
  expectAllGone,
  isAlive,
  makePool,
  waitFor,
  killAfterTest,
  nextEvent,
  readMarker,
  rejection,
  started,
  tempDir,
} from './helpers/index.js';

/** The worker's grandchildren from the marker, plus every descendant seen in /proc now. */
async function treeOf(markerPath: string): Promise<{ worker: number; tree: number[] }> {
  const marker = await readMarker(markerPath);
  const tree = [...new Set([...marker.grandchildren, ...descendantsOf(marker.pid)])];
  // The marker's grandchildren by identity (one may be dead by now); the rest were just seen alive.
  killAfterTest(marker.identities);
  killAfterTest(tree.filter((pid) => !marker.grandchildren.includes(pid)));
  expect(marker.grandchildren.every(isAlive)).toBe(true);
  return { worker: marker.pid, tree };
}

describe('killing the process tree', () => {
  it('a timeout kills the grandchildren of a worker spinning in a synchronous loop', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const marker = join(tempDir(), 'tree.json');
    const task = pool.submit(treeAndSpin, [marker], { timeout: 1_000 });
    const { worker, tree } = await treeOf(marker);
    expect(tree.length).toBeGreaterThanOrEqual(3);
    expect(await rejection(task)).toBeInstanceOf(TimeoutError);
    await expectAllGone([worker, ...tree], 3_000);
    expect((await pool.submit(twice, [3])).value).toBe(7);
  });

  it('a timeout kills the grandchildren of a worker whose event loop is free', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const marker = join(tempDir(), 'tree.json');
    const task = pool.submit(treeAndHang, [marker], { timeout: 1_000 });
    const { worker, tree } = await treeOf(marker);
    expect(await rejection(task)).toBeInstanceOf(TimeoutError);
    await expectAllGone([worker, ...tree], 3_000);
    expect((await pool.submit(twice, [3])).value).toBe(7);
  });

  it('cancelAndKill kills the grandchildren of a worker spinning in a synchronous loop', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const marker = join(tempDir(), 'tree.json');
    const task = pool.submit(treeAndSpin, [marker]);
    const { worker, tree } = await treeOf(marker);
    const exit = nextEvent(pool, 'workerExit', (e) => e.pid === worker);
    expect(task.cancelAndKill()).toBe(true);
    expect(await rejection(task)).toBeInstanceOf(CancelledError);
    expect(task.cancelled()).toBe(true);
    expect(await exit).toMatchObject({ reason: 'killed', signal: 'SIGKILL' });
    await expectAllGone([worker, ...tree], 3_000);
    await waitFor(() => !exists(worker), {
      timeoutMs: 3_000,
      what: `worker ${worker} to be reaped`,
    });
    expect((await pool.submit(twice, [4])).value).toBe(9);
  });

  it('an aborted signal kills the grandchildren of a running task and cancels it with the reason as cause', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const marker = join(tempDir(), 'tree.json');
    const controller = new AbortController();
    const task = pool.submit(treeAndSpin, [marker], { signal: controller.signal });
    const { worker, tree } = await treeOf(marker);
    const exit = nextEvent(pool, 'workerExit', (e) => e.pid === worker);
    const reason = new Error('the user gave up');
    controller.abort(reason);
    const error = await rejection(task);
    expect(error).toBeInstanceOf(CancelledError);
    expect((error as Error).cause).toBe(reason);
    expect(await exit).toMatchObject({ reason: 'killed', signal: 'SIGKILL' });
    await expectAllGone([worker, ...tree], 3_000);
    expect((await pool.submit(twice, [5])).value).toBe(11);
  });

  it('cancelAndKill kills the grandchildren of a worker whose event loop is free', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const marker = join(tempDir(), 'tree.json');
    const task = pool.submit(treeAndHang, [marker]);
    await started(task);
    const { worker, tree } = await treeOf(marker);
    expect(task.cancelAndKill()).toBe(true);
    expect(await rejection(task)).toBeInstanceOf(CancelledError);
    await expectAllGone([worker, ...tree], 3_000);
    expect((await pool.submit(twice, [4])).value).toBe(9);
  });

  it('shutdown with cancelFutures kills the grandchildren of running tasks', async () => {
    const { pool } = makePool({ maxWorkers: 2 });
    const dir = tempDir();
    const tasks = [0, 1].map((i) => pool.submit(treeAndSpin, [join(dir, `tree-${i}.json`)]));
    const trees = await Promise.all([0, 1].map((i) => treeOf(join(dir, `tree-${i}.json`))));
    await pool.shutdown({ wait: false, cancelFutures: true });
    for (const task of tasks) expect(await rejection(task)).toBeInstanceOf(CancelledError);
    await expectAllGone(
      trees.flatMap(({ worker, tree }) => [worker, ...tree]),
      3_000,
    );
  });

  it('a graceful shutdown leaves no descendant behind, even grandchildren a finished task left running', async () => {
    const { pool } = makePool({ maxWorkers: 1 });
    const marker = join(tempDir(), 'tree.json');
    const worker = await pool.submit(leaveTree, [marker]);
    const { tree } = await treeOf(marker);
    expect(tree.filter(isAlive)).toEqual(tree);
    await pool.shutdown();
    await expectAllGone([worker, ...tree], 1_000);
  });
});

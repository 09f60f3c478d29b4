import { describe, expect, test } from 'vitest';
import { Backlog, TaskHeap } from '../src/parent/backlog.js';

interface Item {
  priority: number;
  label: string;
  entry?: undefined;
}

const run = () => Promise.resolve();

describe('TaskHeap', () => {
  test('dequeues the highest p-queue priority first and keeps submission order within a priority', () => {
    const heap = new TaskHeap();
    const order: string[] = [];
    const labels = ['a5', 'b1', 'c5', 'd0', 'e1', 'f5', 'g0'];
    for (const label of labels) {
      const fn = () => {
        order.push(label);
        return Promise.resolve();
      };
      heap.enqueue(fn, { priority: -Number(label.slice(1)) });
    }
    expect(heap.size).toBe(7);
    for (let fn = heap.dequeue(); fn; fn = heap.dequeue()) void fn();
    expect(order).toEqual(['d0', 'g0', 'b1', 'e1', 'a5', 'c5', 'f5']);
    expect(heap.size).toBe(0);
  });

  test('a discarded entry is skipped and no longer counted', () => {
    const heap = new TaskHeap();
    const holder: { entry?: unknown } = {};
    heap.enqueue(run, { priority: 0 });
    heap.enqueue(run, { priority: 5, queued: holder as never });
    expect(heap.size).toBe(2);
    expect(heap.discard(holder.entry as never)).toBe(true);
    expect(heap.discard(holder.entry as never)).toBe(false);
    expect(heap.size).toBe(1);
    expect(heap.dequeue()).toBe(run);
    expect(heap.dequeue()).toBeUndefined();
  });

  test('stays ordered over many random inserts', () => {
    const heap = new TaskHeap();
    const expected: [number, number][] = [];
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 2_000; i++) {
      const priority = Math.floor(random() * 10);
      expected.push([priority, i]);
      const fn = () => Promise.resolve([priority, i]);
      heap.enqueue(fn, { priority: -priority });
    }
    expected.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const seen: unknown[] = [];
    for (let fn = heap.dequeue(); fn; fn = heap.dequeue()) seen.push(fn);
    expect(seen).toHaveLength(2_000);
    return Promise.all(seen.map((fn) => (fn as () => Promise<unknown>)())).then((pairs) =>
      expect(pairs).toEqual(expected),
    );
  });
});

describe('Backlog', () => {
  function backlog() {
    const started: string[] = [];
    const finish = new Map<string, () => void>();
    const queue = new Backlog<Item>(
      (item) =>
        new Promise<void>((resolve) => {
          started.push(item.label);
          finish.set(item.label, resolve);
        }),
    );
    return { queue, started, finish };
  }

  test('starts nothing while there are no slots, then exactly as many as there are slots', async () => {
    const { queue, started } = backlog();
    for (const label of ['a', 'b', 'c']) queue.add({ priority: 0, label });
    expect(started).toEqual([]);
    queue.setSlots(2);
    expect(started).toEqual(['a', 'b']);
    expect(queue.size).toBe(1);
    await Promise.resolve();
    expect(started).toEqual(['a', 'b']);
  });

  test('when a slot frees up, the best job waiting at that moment starts', async () => {
    const { queue, started, finish } = backlog();
    queue.setSlots(1);
    queue.add({ priority: 0, label: 'blocker' });
    queue.add({ priority: 5, label: 'five' });
    queue.add({ priority: 1, label: 'one' });
    queue.add({ priority: 0, label: 'zero' });
    finish.get('blocker')!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual(['blocker', 'zero']);
  });

  test('remove() takes a waiting job out and reports whether it was waiting', () => {
    const { queue, started } = backlog();
    const job: Item = { priority: 0, label: 'x' };
    queue.add(job);
    expect(queue.remove(job)).toBe(true);
    expect(queue.remove(job)).toBe(false);
    queue.setSlots(1);
    expect(started).toEqual([]);
    expect(queue.size).toBe(0);
  });

  test('drain() returns every waiting job and empties the backlog', () => {
    const { queue } = backlog();
    const jobs = [1, 2, 3].map((n) => ({ priority: n, label: String(n) }));
    for (const job of jobs) queue.add(job);
    expect(new Set(queue.drain())).toEqual(new Set(jobs));
    expect(queue.size).toBe(0);
  });

  test('below(n) resolves once fewer than n jobs wait', async () => {
    const { queue } = backlog();
    const jobs = [1, 2, 3].map((n) => ({ priority: 0, label: String(n) }));
    for (const job of jobs) queue.add(job);
    let resolved = false;
    const below = queue.below(2).then(() => (resolved = true));
    queue.remove(jobs[0]!);
    await Promise.resolve();
    expect(resolved).toBe(false);
    queue.setSlots(1);
    await below;
    expect(queue.size).toBe(1);
  });
});

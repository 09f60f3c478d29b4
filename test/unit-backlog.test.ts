import { describe, expect, test } from 'vitest';
import { Backlog, TaskHeap } from '../src/parent/backlog.js';

interface Item {
  priority: number;
  label: string;
  seq: number;
  entry?: undefined;
}

let nextSeq = 1_000;
/** A backlog item; `seq` defaults to the next submission number. */
function item(priority: number, label: string, seq = nextSeq++): Item {
  return { priority, label, seq };
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
    for (const label of ['a', 'b', 'c']) queue.add(item(0, label));
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
    queue.add(item(0, 'blocker'));
    queue.add(item(5, 'five'));
    queue.add(item(1, 'one'));
    queue.add(item(0, 'zero'));
    finish.get('blocker')!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual(['blocker', 'zero']);
  });

  test('remove() takes a waiting job out and reports whether it was waiting', () => {
    const { queue, started } = backlog();
    const job: Item = item(0, 'x');
    queue.add(job);
    expect(queue.remove(job)).toBe(true);
    expect(queue.remove(job)).toBe(false);
    queue.setSlots(1);
    expect(started).toEqual([]);
    expect(queue.size).toBe(0);
  });

  test('drain() returns every waiting job and empties the backlog', () => {
    const { queue } = backlog();
    const jobs = [1, 2, 3].map((n) => item(n, String(n)));
    for (const job of jobs) queue.add(job);
    expect(new Set(queue.drain())).toEqual(new Set(jobs));
    expect(queue.size).toBe(0);
  });

  test('peek() shows the best waiting job; a job put back keeps its place by seq', () => {
    const { queue } = backlog();
    const a = item(0, 'a', 10);
    const b = item(0, 'b', 11);
    queue.add(b);
    expect(queue.peek()).toBe(b);
    queue.add(a); // put back: older than b, so ahead of it
    expect(queue.peek()).toBe(a);
    queue.remove(a);
    expect(queue.peek()).toBe(b);
    queue.add(item(1, 'later priority', 12));
    expect(queue.peek()).toBe(b);
    const urgent = item(0, 'urgent', 14);
    queue.add(urgent);
    expect(queue.peek()).toBe(b); // same priority, submitted after b
    queue.remove(b);
    expect(queue.peek()).toBe(urgent);
  });

  test('calls shrunk() each time a job leaves the backlog', () => {
    let shrunk = 0;
    const queue = new Backlog<Item>(
      () => new Promise<void>(() => {}),
      () => shrunk++,
    );
    const jobs = [1, 2, 3].map((n) => item(0, String(n)));
    for (const job of jobs) queue.add(job);
    queue.remove(jobs[0]!);
    expect(shrunk).toBe(1);
    queue.setSlots(2);
    expect(shrunk).toBe(3);
  });
});

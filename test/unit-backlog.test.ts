import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, test } from 'vitest';
import { Backlog, SeqQueue } from '../src/parent/backlog.js';

interface Item {
  priority: number;
  label: string;
  seq: number;
  stamp?: number;
}

let nextSeq = 1_000;
/** A backlog item; `seq` defaults to the next submission number. */
function item(priority: number, label: string, seq = nextSeq++): Item {
  return { priority, label, seq };
}

describe('SeqQueue', () => {
  /** An item of one priority with submission number `seq`, and a run function that reports it. */
  function queued(seq: number) {
    const run: Run = () => Promise.resolve(seq);
    return { priority: 0, seq, stamp: undefined as number | undefined, run };
  }

  type Run = () => Promise<number>;

  async function drain(queue: SeqQueue<Run>): Promise<unknown[]> {
    const seen: unknown[] = [];
    for (let fn = queue.dequeue(); fn; fn = queue.dequeue()) seen.push(await fn());
    return seen;
  }

  test('takes tasks in submission order; a task put back keeps its earlier place', async () => {
    const queue = new SeqQueue<Run>();
    for (const seq of [1, 2, 5, 7]) queue.enqueue(queued(seq).run, queued(seq));
    const back = queued(3);
    queue.enqueue(back.run, back); // put back, submitted before 5
    queue.enqueue(queued(0).run, queued(0)); // before all
    queue.enqueue(queued(9).run, queued(9));
    expect(queue.size).toBe(7);
    expect(await drain(queue)).toEqual([0, 1, 2, 3, 5, 7, 9]);
    expect(queue.size).toBe(0);
  });

  test('a discarded item is skipped and no longer counted', () => {
    const queue = new SeqQueue<Run>();
    const a = queued(1);
    const b = queued(2);
    queue.enqueue(a.run, a);
    queue.enqueue(b.run, b);
    expect(queue.discard(a)).toBe(true);
    expect(a.stamp).toBeUndefined(); // it no longer waits
    expect(queue.discard(a)).toBe(false);
    expect(queue.size).toBe(1);
    expect(queue.peek()).toBe(b.run);
    expect(b.stamp).toBeDefined();
    expect(queue.dequeue()).toBe(b.run);
    expect(b.stamp).toBeUndefined(); // taken: it no longer waits
    expect(queue.dequeue()).toBeUndefined();
  });

  test('an item discarded and put back waits once, in its place; its old slot stays dead', () => {
    const queue = new SeqQueue<Run>();
    const [a, b, c] = [queued(1), queued(2), queued(3)];
    for (const x of [a, b, c]) queue.enqueue(x.run, x);
    expect(queue.discard(b)).toBe(true);
    queue.enqueue(b.run, b); // back, beside its dead slot
    expect(queue.size).toBe(3);
    const seen: Run[] = [];
    queue.collect(seen);
    expect(seen).toEqual([a.run, b.run, c.run]);
    expect([queue.dequeue(), queue.dequeue(), queue.dequeue()]).toEqual([a.run, b.run, c.run]);
    expect(queue.dequeue()).toBeUndefined();
    expect(queue.size).toBe(0);
  });

  test('keeps no reference to a value once taken or passed over', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const queue = new SeqQueue<object>();
    const items = [queued(1), queued(2), queued(3)];
    let taken: WeakRef<object> | undefined;
    let discarded: WeakRef<object> | undefined;
    ((): void => {
      const values = items.map(() => ({ payload: new Array(1000).fill(0) }));
      items.forEach((item, i) => queue.enqueue(values[i]!, item));
      taken = new WeakRef(queue.dequeue()!);
      discarded = new WeakRef(values[1]!);
      queue.discard(items[1]!);
      expect(queue.peek()).toBe(values[2]); // passes over the discarded slot
    })();
    // A WeakRef's target stays alive until the job that made it ends.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(taken.deref()).toBeUndefined();
    expect(discarded.deref()).toBeUndefined();
    expect(queue.size).toBe(1);
  });

  test('stays ordered over many tasks taken, put back and discarded', async () => {
    const queue = new SeqQueue<Run>();
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const expected = new Set<number>();
    const items = new Map<number, ReturnType<typeof queued>>();
    let next = 0;
    for (let i = 0; i < 5_000; i++) {
      const r = random();
      if (r < 0.6 || items.size === 0) {
        // a new task, or (one in six) one put back with an old number
        const seq = r < 0.1 && next > 0 ? Math.floor(random() * next) : next++;
        if (expected.has(seq)) continue;
        const item = queued(seq);
        items.set(seq, item);
        expected.add(seq);
        queue.enqueue(item.run, item);
      } else if (r < 0.8) {
        const fn = queue.dequeue()!;
        const seq = await fn();
        expect(seq).toBe(Math.min(...expected));
        expected.delete(seq);
        items.delete(seq);
      } else {
        const [seq, item] = [...items][Math.floor(random() * items.size)]!;
        expect(queue.discard(item)).toBe(true);
        expected.delete(seq);
        items.delete(seq);
      }
      expect(queue.size).toBe(expected.size);
    }
    expect(await drain(queue)).toEqual([...expected].sort((x, y) => x - y));
  });
});

describe('Backlog', () => {
  function backlog() {
    const started: string[] = [];
    const finish = new Map<string, () => void>();
    const queue = new Backlog<Item>((item, release) => {
      started.push(item.label);
      finish.set(item.label, release);
    });
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

  test('jobs that waited while there were no slots take the first slots best first; the rest wait for them', async () => {
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    const { queue, started, finish } = backlog();
    queue.add(item(5, 'five'));
    queue.add(item(1, 'one'));
    queue.add(item(0, 'zero'));
    queue.add(item(1, 'one again'));
    queue.setSlots(2);
    expect(started).toEqual(['zero', 'one']);
    // Both slots are held by jobs that took them directly: no ticket waits.
    expect(queue.ticketsWaiting).toBe(0);
    expect(queue.size).toBe(2);
    queue.add(item(-1, 'urgent')); // every slot is taken: it waits, ahead of the others
    finish.get('one')!();
    await settle();
    expect(started).toEqual(['zero', 'one', 'urgent']);
    finish.get('zero')!();
    await settle();
    expect(started).toEqual(['zero', 'one', 'urgent', 'one again']);
    finish.get('urgent')!();
    await settle();
    expect(started).toEqual(['zero', 'one', 'urgent', 'one again', 'five']);
    expect(queue.size).toBe(0);
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

  test('a waiting job costs p-queue nothing until a slot is free for it', () => {
    const { queue, started, finish } = backlog();
    queue.setSlots(2);
    for (let i = 0; i < 1_000; i++) queue.add(item(0, String(i)));
    expect(started).toEqual(['0', '1']);
    // At most one ticket per slot waits in p-queue, not one per job: here
    // none, as both slots are held by the jobs that took them at once.
    expect(queue.ticketsWaiting).toBe(0);
    // Jobs taken for pipelining leave no ticket behind them.
    for (let i = 2; i < 1_000; i++) expect(queue.take(queue.peek()!)).toBe(true);
    finish.get('0')!();
    expect(queue.size).toBe(0);
  });

  test('a job added while a slot is free and nothing waits starts at once, without a ticket', async () => {
    const { queue, started, finish } = backlog();
    queue.setSlots(1);
    queue.add(item(0, 'a'));
    expect(started).toEqual(['a']);
    expect(queue.ticketsWaiting).toBe(0);
    expect(queue.size).toBe(0);
    // Its slot is taken: the next job waits, however good its priority.
    queue.add(item(-5, 'b'));
    expect(started).toEqual(['a']);
    expect(queue.size).toBe(1);
    finish.get('a')!();
    expect(started).toEqual(['a']); // never inside the release: on the next microtask
    await Promise.resolve();
    expect(started).toEqual(['a', 'b']);
    // A second release of the same slot frees nothing more.
    finish.get('a')!();
    await Promise.resolve();
    queue.add(item(0, 'c'));
    expect(started).toEqual(['a', 'b']);
  });

  test('a job never passes one that waits, even when a slot is free', async () => {
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    const { queue, started, finish } = backlog();
    queue.add(item(0, 'first')); // no slots yet: it waits
    queue.setSlots(2);
    expect(started).toEqual(['first']);
    queue.add(item(0, 'second')); // the free slot, nothing waiting: at once
    queue.add(item(0, 'third'));
    queue.add(item(-1, 'urgent'));
    expect(started).toEqual(['first', 'second']);
    finish.get('first')!(); // it took its slot directly: freed on the next microtask
    await settle();
    expect(started).toEqual(['first', 'second', 'urgent']);
    finish.get('second')!(); // a slot taken at once: freed on the next microtask
    await Promise.resolve();
    expect(started).toEqual(['first', 'second', 'urgent', 'third']);
  });

  test('slots taken at once count when the slots shrink', async () => {
    const { queue, started, finish } = backlog();
    queue.setSlots(2);
    queue.add(item(0, 'a'));
    queue.add(item(0, 'b'));
    queue.setSlots(1); // a worker left: a and b still hold theirs
    finish.get('a')!();
    await Promise.resolve();
    queue.add(item(0, 'c'));
    expect(started).toEqual(['a', 'b']); // b holds the one slot
    finish.get('b')!();
    await Promise.resolve();
    expect(started).toEqual(['a', 'b', 'c']);
  });

  test('calls shrunk() each time a job leaves the backlog', () => {
    let shrunk = 0;
    const queue = new Backlog<Item>(
      () => {},
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

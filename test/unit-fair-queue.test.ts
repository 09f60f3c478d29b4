/**
 * The backlog's order (docs/dispatch.md "Sharing"): priority first, then
 * round-robin across tenants; caps; which removals pass a tenant's turn.
 */
import { describe, expect, test } from 'vitest';
import { Backlog } from '../src/parent/backlog.js';
import { FairQueue, NO_TENANT, type FairItem, type TenantKey } from '../src/parent/fair-queue.js';

interface Item extends FairItem {
  label: string;
}

let seq = 0;
function item(label: string, priority = 0): Item {
  const tenant: TenantKey = label[0] === '-' ? NO_TENANT : label[0]!;
  return { label, priority, seq: seq++, tenant };
}

/** Enqueue `labels` (first letter: tenant; '-': none; a digit after '@': priority). */
function queueOf(labels: string[]): { queue: FairQueue<Item>; items: Map<string, Item> } {
  const queue = new FairQueue<Item>();
  const items = new Map<string, Item>();
  for (const spec of labels) {
    const [label, p] = spec.split('@') as [string, string | undefined];
    const it = item(label, Number(p ?? 0));
    items.set(label, it);
    queue.enqueue(it, it);
  }
  return { queue, items };
}

function drainOrder(queue: FairQueue<Item>): string[] {
  const order: string[] = [];
  for (let it = queue.dequeue(); it; it = queue.dequeue()) order.push(it.label);
  return order;
}

describe('FairQueue order', () => {
  const rows: [string, string[], string[]][] = [
    ['one tenant keeps submission order', ['a1', 'a2', 'a3'], ['a1', 'a2', 'a3']],
    [
      'twelve of A then three of B alternate until B runs out',
      [...Array.from({ length: 12 }, (_, i) => `a${i}`), 'b0', 'b1', 'b2'],
      ['a0', 'b0', 'a1', 'b1', 'a2', 'b2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9', 'a10', 'a11'],
    ],
    [
      'tasks without a tenant are one tenant of their own',
      ['a1', 'a2', '-1', '-2', 'b1'],
      ['a1', '-1', 'b1', 'a2', '-2'],
    ],
    [
      'priority comes before the round',
      ['a1@1', 'a2@1', 'b1@1', 'c1@0', 'c2@0'],
      ['c1', 'c2', 'a1', 'b1', 'a2'],
    ],
  ];
  for (const [title, input, expected] of rows) {
    test(title, async () => {
      const { queue } = queueOf(input);
      expect(queue.size).toBe(input.length);
      expect(drainOrder(queue)).toEqual(expected);
      expect(queue.size).toBe(0);
    });
  }

  test('a tenant that starts waiting joins at the back of the current round', async () => {
    const { queue } = queueOf(['a1', 'a2', 'a3', 'b1', 'b2']);
    expect(queue.dequeue()!.label).toBe('a1'); // round: b, a
    const c1 = item('c1');
    queue.enqueue(c1, c1); // round: b, a, c
    expect(drainOrder(queue)).toEqual(['b1', 'a2', 'c1', 'b2', 'a3']);
  });
});

describe('FairQueue turns', () => {
  const rows: [string, boolean, string[]][] = [
    // Removing a cancelled task leaves the tenant's turn where it was.
    ['a cancelled task does not pass its tenant’s turn', false, ['a2', 'b1', 'a3', 'b2']],
    // Taking one to run (pipelining) passes the turn, as dequeue does.
    ['a task taken to run passes its tenant’s turn', true, ['b1', 'a2', 'b2', 'a3']],
  ];
  for (const [title, taken, expected] of rows) {
    test(title, async () => {
      const { queue, items } = queueOf(['a1', 'a2', 'a3', 'b1', 'b2']);
      expect((queue.peek() as Item).label).toBe('a1');
      expect(queue.remove(items.get('a1')!, taken)).toBe(true);
      expect(queue.remove(items.get('a1')!, taken)).toBe(false);
      expect(drainOrder(queue)).toEqual(expected);
    });
  }

  test('a tenant whose last task is removed leaves the round', async () => {
    const { queue, items } = queueOf(['a1', 'b1', 'b2']);
    queue.remove(items.get('a1')!, false);
    expect(drainOrder(queue)).toEqual(['b1', 'b2']);
  });
});

describe('FairQueue caps', () => {
  test('a capped tenant is skipped and not counted in size; uncapped, it takes its turn again', async () => {
    const { queue } = queueOf(['a1', 'a2', 'b1', 'b2']);
    queue.setCapped('a', true);
    expect(queue.size).toBe(2);
    expect(queue.total).toBe(4);
    expect((queue.peek() as Item).label).toBe('b1');
    expect(drainOrder(queue)).toEqual(['b1', 'b2']);
    expect(queue.dequeue()).toBeUndefined();
    queue.setCapped('a', false);
    expect(queue.size).toBe(2);
    expect(drainOrder(queue)).toEqual(['a1', 'a2']);
  });

  test('tasks added or removed while capped keep the counts right', () => {
    const { queue, items } = queueOf(['a1']);
    queue.setCapped('a', true);
    const a2 = item('a2');
    queue.enqueue(a2, a2);
    expect([queue.size, queue.total]).toEqual([0, 2]);
    queue.remove(items.get('a1')!, false);
    expect([queue.size, queue.total]).toEqual([0, 1]);
    queue.setCapped('a', false);
    expect([queue.size, queue.total]).toEqual([1, 1]);
  });
});

describe('Backlog with maxRunningPerTenant', () => {
  interface Job {
    priority: number;
    seq: number;
    tenant: string | undefined;
    label: string;
  }
  const job = (label: string): Job => ({
    priority: 0,
    seq: seq++,
    tenant: label[0] === '-' ? undefined : label[0],
    label,
  });

  function backlog(cap: number) {
    const started: string[] = [];
    const queue = new Backlog<Job>(
      (j) => {
        started.push(j.label);
      },
      () => {},
      cap,
    );
    return { queue, started };
  }

  const rows: [string, number, string[], number, string[]][] = [
    [
      'a tenant at its cap waits while others run past it',
      1,
      ['a1', 'a2', 'b1', '-1', '-2'],
      5,
      ['a1', 'b1', '-1', '-2'],
    ],
    [
      'tasks without a tenant are not capped',
      1,
      ['-1', '-2', '-3', 'a1', 'a2'],
      5,
      ['-1', 'a1', '-2', '-3'],
    ],
    ['a cap of 2 lets two of a tenant run', 2, ['a1', 'a2', 'a3'], 3, ['a1', 'a2']],
  ];
  for (const [title, cap, labels, slots, expected] of rows) {
    test(title, () => {
      const { queue, started } = backlog(cap);
      for (const label of labels) queue.add(job(label));
      queue.setSlots(slots);
      expect(started).toEqual(expected);
      expect(queue.size).toBe(labels.length - expected.length);
    });
  }

  test('a task that could start at once still waits while its tenant is at its cap', () => {
    const { queue, started } = backlog(1);
    queue.setSlots(3);
    queue.add(job('a1'));
    queue.add(job('a2'));
    queue.add(job('b1'));
    expect(started).toEqual(['a1', 'b1']);
    expect(queue.size).toBe(1);
  });

  test('a task taken for pipelining counts against the cap, and its return lets the tenant go on', () => {
    const { queue, started } = backlog(1);
    const a1 = job('a1');
    for (const j of [a1, job('a2'), job('b1')]) queue.add(j);
    expect(queue.peek()).toBe(a1);
    expect(queue.take(a1)).toBe(true);
    queue.setSlots(2);
    expect(started).toEqual(['b1']); // a2 waits: a1 is queued inside a worker
    queue.returned(a1);
    expect(started).toEqual(['b1', 'a2']); // the nudge: p-queue looked again
  });
});

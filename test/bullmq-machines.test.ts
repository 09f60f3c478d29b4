/**
 * Two machines, each a process with its own pool, consume one queue; one is
 * SIGKILLed mid-job. Nothing is lost: every job completes exactly once as
 * the submitter sees it (a job cut short on the dead machine runs again on
 * the other), the dead machine's workers and their children are gone within
 * a second (the pool's sentinel), and Redis's active list ends empty.
 */
import { expect, it } from 'vitest';
import { CancelledError } from '../dist/index.js';
import { CancelPublisher } from '../src/bullmq/control.js';
import { add, slow, tree } from './fixtures/bullmq/tasks.mjs';
import type { Where } from './fixtures/bullmq/tasks.mjs';
import {
  descendantsOf,
  expectAllGone,
  isAlive,
  killAfterTest,
  rejection,
  tempDir,
  waitFor,
  within,
} from './helpers/index.js';
import {
  bullEvents,
  bullQueue,
  machineProcess,
  markers,
  queueName,
  submitter,
  waitForMarkers,
} from './helpers/bullmq.js';
import { describeWithRedis } from './helpers/redis.js';

type Started = Where & { label: string; child: number };

const JOBS = 12;
const JOB_MS = 1_000;

describeWithRedis('deadpool/bullmq on two machines', (redis) => {
  it('loses no job when a machine is SIGKILLed mid-job, and leaves no process behind', async () => {
    const name = queueName();
    const settings = { maxWorkers: 2, lockDuration: 2_000, stalledInterval: 500 };
    const [a, b] = await Promise.all([
      machineProcess(redis(), name, settings),
      machineProcess(redis(), name, settings),
    ]);
    const events = await bullEvents(redis(), name);
    const completions = new Map<string, number>();
    events.on('completed', ({ jobId }) =>
      completions.set(jobId, (completions.get(jobId) ?? 0) + 1),
    );
    let failures = 0;
    events.on('failed', () => failures++);

    const queue = submitter(redis(), name);
    const dir = tempDir();
    const futures = Array.from({ length: JOBS }, (_, i) =>
      queue.submit(slow, [JOB_MS, dir, `job${i}`]),
    );

    // Kill machine A while it runs a job whose future is still pending.
    const cutShort = await waitFor(
      () =>
        markers<Started>(dir, /\.started$/).find(
          (m) => m.machine === a.pid && !futures[Number(m.label.slice(3))]!.done(),
        ),
      { what: 'a job running on machine A' },
    );
    const doomed = [a.pid, ...descendantsOf(a.pid)];
    expect(doomed).toContain(cutShort.pid);
    expect(doomed).toContain(cutShort.child);
    killAfterTest(doomed);
    const killedAt = Date.now();
    a.child.kill('SIGKILL');
    await expectAllGone(doomed, 5_000);
    // The pool's sentinel acts on the parent's death at once; the contract is "within 1 s".
    expect(Date.now() - killedAt).toBeLessThan(1_000);

    const results = await within(Promise.allSettled(futures), 40_000, 'every job settling');
    const values = results.map((r) => {
      expect(r.status).toBe('fulfilled');
      return (r as PromiseFulfilledResult<Where & { label: string }>).value;
    });
    expect(values.map((v) => v.label)).toEqual(futures.map((_, i) => `job${i}`));
    for (const v of values) expect([a.pid, b.pid]).toContain(v.machine);
    // The job cut short ran again, on B, and completed once.
    expect(values[Number(cutShort.label.slice(3))]!.machine).toBe(b.pid);
    await waitFor(() => completions.size === JOBS, { what: 'every completed event' });
    expect([...completions.values()].every((count) => count === 1)).toBe(true);
    expect(failures).toBe(0);
    const raw = bullQueue(redis(), name);
    expect(await raw.getActiveCount()).toBe(0);
    expect(await raw.getCompletedCount()).toBe(JOBS);
    expect(isAlive(b.pid)).toBe(true);
  }, 60_000);

  it('does not run again a job cancelled while the machine running it was dying', async () => {
    const name = queueName();
    const settings = { maxWorkers: 1, lockDuration: 2_000, stalledInterval: 500 };
    const a = await machineProcess(redis(), name, settings);
    const queue = submitter(redis(), name);
    const dir = tempDir();
    const future = queue.submit(tree, [dir], { attempts: 3 });
    const [marker] = await waitForMarkers<Where & { grandchildren: number[] }>(dir, /^tree\./);
    expect(marker!.machine).toBe(a.pid);
    const b = await machineProcess(redis(), name, settings);
    const doomed = [a.pid, ...descendantsOf(a.pid)];
    killAfterTest(doomed);
    a.child.kill('SIGKILL');
    // A's lock holds for a second or more: the job cannot be removed, so the cancel is
    // broadcast; B remembers it and refuses the job when the stalled check hands it over.
    expect(await future.cancel('no longer wanted')).toBe(true);
    expect(await rejection(future)).toBeInstanceOf(CancelledError);
    expect(await future.state()).toBe('failed');
    await expectAllGone(doomed, 5_000);
    expect(markers(dir, /^tree\./)).toHaveLength(1);
    expect(isAlive(b.pid)).toBe(true);
  });

  it('refuses a job whose cancel went out just before the machine started, not only after its first read', async () => {
    const name = queueName();
    // What a cancel published between a machine's start and its listener's
    // first read of the control stream is to that machine: already there.
    const publisher = new CancelPublisher(name, { connection: redis().connection });
    await publisher.publish({ jobId: 'cancelled-early', reason: 'no longer wanted' });
    await publisher.close();
    await machineProcess(redis(), name, { maxWorkers: 1 });
    const queue = submitter(redis(), name);
    const refused = queue.submit(add, [1, 2], { jobId: 'cancelled-early' });
    const error = await rejection(refused);
    expect(error).toBeInstanceOf(CancelledError);
    expect(String(error)).toContain('no longer wanted');
    // The machine goes on: another job runs.
    expect(await queue.submit(add, [2, 3])).toBe(5);
  });
});

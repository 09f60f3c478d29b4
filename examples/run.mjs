// `npm run example`: a real run that shows results, a timeout, a priority
// overtaking, and the statistics. It exits by itself.
import { Deadpool, TimeoutError } from 'deadpool';
import { hash, nap, spin } from './tasks.mjs';

const pool = new Deadpool({ maxWorkers: 2, maxTasksPerChild: 100 });
pool.on('workerExit', ({ pid, reason, signal }) =>
  console.log(`  worker ${pid} exited: ${reason}${signal ? ` (${signal})` : ''}`),
);
await pool.ready();

console.log('1. results, in order, from two worker processes:');
const futures = ['alpha', 'beta', 'gamma', 'delta'].map((word) =>
  pool.submit(hash, [word, 20_000]),
);
for (const [i, future] of futures.entries())
  console.log(`  ${i}: ${await future} (pid ${future.pid})`);

console.log('2. an endless loop with a 300 ms timeout is SIGKILLed, and the pool goes on:');
const started = performance.now();
try {
  await pool.submit(spin, [], { timeout: 300, name: 'spin' });
} catch (error) {
  if (!(error instanceof TimeoutError)) throw error;
  console.log(
    `  ${error.code} after ${Math.round(performance.now() - started)} ms: ${error.message}`,
  );
}
console.log(`  next task: ${await pool.submit(hash, ['after the timeout', 10])}`);

console.log('3. priorities: lower runs first, whatever the submission order:');
// One worker, busy with a blocker, so the three wait and the backlog orders them.
const solo = new Deadpool({ maxWorkers: 1 });
const blocker = solo.submit(nap, [300, 'blocker']);
const order = [];
const queued = [9, 5, 0].map((priority) => {
  const future = solo.submit(nap, [1, `priority ${priority}`], { priority });
  future.then((label) => order.push(label));
  return future;
});
await Promise.all([blocker, ...queued]);
console.log(`  submitted 9, 5, 0; ran: ${order.join(' → ')}`);
await solo.shutdown();

console.log('4. statistics:');
const { workerExits, queueWaitMs, runTimeMs, ...counters } = pool.getStatistics();
console.log(counters);
console.log(
  `  queue wait p50 ${queueWaitMs.p50.toFixed(2)} ms, run time p50 ${runTimeMs.p50.toFixed(2)} ms`,
);
console.log(
  '  worker exits by reason:',
  Object.fromEntries(Object.entries(workerExits).filter(([, n]) => n > 0)),
);

await pool.shutdown();
console.log('done: every worker has exited.');

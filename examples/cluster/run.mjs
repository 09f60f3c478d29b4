// `npm run example:cluster`: one box plays a cluster. It starts a Redis, two
// "machines" (processes, each a createQueueWorker with a pool of 2) and a
// producer (this process, a DeadpoolQueue); SIGKILLs machine-1 halfway; shows
// what ran where, and that the dead machine's jobs ran again on machine-2;
// then a job timeout; then cleans everything up.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { DeadpoolQueue } from 'deadpool/bullmq';
import { startRedis } from './redis.mjs';
import { render, stuck } from './tasks.mjs';

const FRAMES = 12;

/** Every live descendant of `root`, from /proc (Linux). */
function descendants(root) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z') continue;
      children.set(Number(ppid), [...(children.get(Number(ppid)) ?? []), Number(entry)]);
    } catch {
      // gone while we looked
    }
  }
  const out = [];
  for (const stack = [...(children.get(root) ?? [])]; stack.length > 0;) {
    const pid = stack.pop();
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

const alive = (pid) => {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
};

/** Which machines took each job, from the machines' "took job" lines. */
const took = new Map();

function startMachine(name, port) {
  const path = fileURLToPath(new URL('./machine.mjs', import.meta.url));
  const child = spawn(process.execPath, [path, name, String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const ready = new Promise((resolve, reject) => {
    child.once('exit', () => reject(new Error(`${name} exited before it was ready`)));
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      process.stdout.write(chunk);
      for (const [, id] of chunk.matchAll(/took job \S+ (\S+)/g)) {
        took.set(id, [...(took.get(id) ?? []), name]);
      }
      if (chunk.includes('ready')) resolve();
    });
  });
  return { name, child, exited, ready };
}

const redis = await startRedis();
console.log(`Redis on 127.0.0.1:${redis.port}`);
const machines = [startMachine('machine-1', redis.port), startMachine('machine-2', redis.port)];
const queue = new DeadpoolQueue('frames', { connection: redis.connection });
try {
  await Promise.all(machines.map((m) => m.ready));

  console.log(`\n1. ${FRAMES} frames over two machines; machine-1 is SIGKILLed halfway:`);
  const frames = Array.from({ length: FRAMES }, (_, i) =>
    queue.submit(render, [i, 800], { jobId: `frame-${i}` }),
  );
  let reports = 0;
  for (const f of frames) f.addProgressCallback(() => reports++);
  let finished = 0;
  const half = new Promise((resolve) => {
    for (const f of frames) f.then(() => ++finished === FRAMES / 2 && resolve());
  });
  await half;
  const [victim, survivor] = machines;
  const doomed = descendants(victim.child.pid);
  victim.child.kill('SIGKILL');
  const killedAt = Date.now();
  console.log(
    `  >>> SIGKILL machine-1 (pid ${victim.child.pid}; workers and helpers ${doomed.join(', ')})`,
  );
  while (doomed.some(alive) && Date.now() - killedAt < 5_000) await delay(10);
  console.log(
    `  >>> machine-1's processes gone ${Date.now() - killedAt} ms later (the workers' watchdog)`,
  );

  const results = await Promise.all(frames);
  console.log('\n  frame  ran on      worker pid');
  for (const { frame, machine, pid } of results) {
    console.log(`  ${String(frame).padEnd(5)}  ${machine.padEnd(10)}  ${pid}`);
  }
  const on = (name) => results.filter((r) => r.machine === name).length;
  console.log(
    `  ${FRAMES} frames, each once: machine-1 ${on('machine-1')}, machine-2 ${on('machine-2')}; ${reports} progress reports`,
  );
  const again = [...took].filter(([, names]) => names.length > 1).map(([id]) => id);
  console.log(
    `  started on machine-1, cut short, run again on machine-2: ${again.join(', ') || 'none'}` +
      ' (at-least-once: make tasks idempotent)',
  );

  console.log('\n2. a job that never ends, timeout 500 ms, 2 attempts:');
  const started = Date.now();
  try {
    await queue.submit(stuck, [], { timeout: 500, attempts: 2 });
  } catch (error) {
    console.log(
      `  ${error.name} [${error.code}] after ${Date.now() - started} ms: ${error.message}`,
    );
  }

  console.log('\n3. shutdown: the producer closes, machine-2 drains and exits, Redis stops');
  await queue.close();
  survivor.child.kill('SIGTERM');
  console.log(`  machine-2 exited with code ${await survivor.exited}`);
} finally {
  await queue.close();
  for (const m of machines) m.child.kill('SIGKILL');
  await Promise.all(machines.map((m) => m.exited));
  await redis.stop();
}
const left = descendants(process.pid);
console.log(left.length === 0 ? '  nothing left running' : `  left running: ${left.join(', ')}`);

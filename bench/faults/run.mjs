// The fault matrix: every failure mode the guarantees cover, against deadpool,
// the peers, raw fork and BullMQ's sandboxed processor, one fresh process per
// cell (bench/faults/case.mjs), and one table: survived / lost / left behind.
//
//   npm run bench:faults                      # every fault × every library (~5 min)
//   node bench/faults/run.mjs --libs=deadpool,bullmq --faults=daemon,fork-bomb
//
// Each cell's process gets its own FAULT_TAG; after it exits (or was
// SIGKILLed, for parent-kill), every live process still carrying that tag
// 1 s later was left behind: it is counted, then SIGKILLed once its /proc
// start time is checked again. BullMQ's Redis is a redis-server of our own on
// a free loopback port, stopped at the end.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { descendantsOf, isRunning, processesWithEnv } from '../lib/procs.mjs';
import { pollUntil } from '../lib/wait.mjs';

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, ...v] = a.replace(/^--/, '').split('=');
    return [k, v.length ? v.join('=') : 'true'];
  }),
);
const LIBS = [
  'deadpool',
  'raw',
  'workerpool',
  'tinypool',
  'jest-worker',
  'worker-farm',
  'poolifier',
  'bullmq',
];
const FAULTS = [
  'timeout-grandchildren',
  'outside-kill',
  'process-exit',
  'oom',
  'poison',
  'parent-kill',
  'daemon',
  'fork-bomb',
  'stdout-garbage',
];
const libs = args.libs?.split(',') ?? LIBS;
const faults = args.faults?.split(',') ?? FAULTS;
const CASE_LIMIT_MS = 60_000;
const LINGER_MS = 1000;
const script = fileURLToPath(new URL('./case.mjs', import.meta.url));

/** /proc start time of `pid` (field 22), or undefined when gone. */
function startTime(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * Processes left 1 s after the cell ended: those carrying `tag`, and those
 * seen as descendants of the cell while it ran (a library may give its
 * workers another environment) that still have the start time they had
 * then. Counted, then killed (start time checked again first).
 */
async function leftBehind(tag, seen) {
  const alive = () => {
    const out = new Map(processesWithEnv('FAULT_TAG', tag).map((pid) => [pid, startTime(pid)]));
    for (const [pid, start] of seen)
      if (startTime(pid) === start && isRunning(pid)) out.set(pid, start);
    return out;
  };
  await pollUntil(() => alive().size === 0, LINGER_MS);
  const found = [...alive()].map(([pid, start]) => ({ pid, start }));
  for (const { pid, start } of found) {
    if (start === undefined || startTime(pid) !== start) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  return found.length;
}

function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Our own redis-server on a free loopback port; resolves with { port, stop }. */
async function startRedis() {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', () => reject(new Error(`redis-server exited: ${out.slice(-300)}`)));
  });
  child.stdout.resume();
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', resolve);
      child.kill('SIGTERM');
    });
  return { port, stop };
}

/** Runs one cell; resolves with its FAULT_RESULT plus `left` (processes left behind). */
function runCase(lib, fault, env) {
  const tag = randomUUID();
  const extra =
    fault === 'oom'
      ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-old-space-size=64`.trim() }
      : {};
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, lib, fault], {
      env: { ...process.env, ...env, ...extra, FAULT_TAG: tag },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let busy;
    child.stdout.on('data', (d) => {
      out += d;
      const m = /FAULT_BUSY (\[.*\])/.exec(out);
      if (m && fault === 'parent-kill' && busy === undefined) {
        busy = JSON.parse(m[1]);
        child.kill('SIGKILL'); // our own child, still running: the pool's parent dies
      }
    });
    child.stderr.on('data', (d) => (err = (err + d).slice(-2000)));
    const limit = setTimeout(() => child.kill('SIGKILL'), CASE_LIMIT_MS);
    // Every descendant of the cell, with its start time, seen every 20 ms while it runs.
    const seen = new Map();
    const look = setInterval(() => {
      for (const pid of descendantsOf(child.pid)) if (!seen.has(pid)) seen.set(pid, startTime(pid));
    }, 20);
    child.on('exit', async () => {
      clearTimeout(limit);
      clearInterval(look);
      for (const [pid, start] of seen) if (start === undefined) seen.delete(pid);
      const left = await leftBehind(tag, seen);
      let result;
      if (fault === 'parent-kill') {
        result = busy
          ? { busy: busy.length, killed: true }
          : { error: `never busy: ${err.slice(-200)}` };
      } else {
        const line = out.split('\n').find((l) => l.startsWith('FAULT_RESULT '));
        result = line
          ? JSON.parse(line.slice(13))
          : { error: `no result; stderr: ${err.slice(-200)}` };
      }
      resolve({ lib, fault, ...result, left });
    });
  });
}

/** survived / lost / left behind, in one cell. */
export function cell(r) {
  if (r.error) return `error (${r.error.slice(0, 40)}) · left ${r.left}`;
  if (r.na) return `n/a (no timeout) · left ${r.left}`;
  if (r.fault === 'parent-kill') return r.left === 0 ? 'all gone' : `**${r.left} left**`;
  const survived = r.next === 'ok' && r.close === 'ok' && r.pending === 0;
  const how =
    r.faulted === 'pending'
      ? 'task pending'
      : r.faulted.startsWith('rejected')
        ? 'task failed'
        : 'task resolved';
  const lost = r.pending ? `, **${r.pending} pending**` : '';
  const pool = r.next === 'ok' ? '' : `, next ${r.next.slice(0, 20)}`;
  const close = r.close === 'ok' ? '' : `, close ${r.close}`;
  return `${survived ? 'survived' : '**broken**'} (${how}${lost}${pool}${close}) · ${r.left ? `**${r.left} left**` : 'left 0'}`;
}

function render(meta, results) {
  const lines = [
    '# Fault matrix',
    '',
    `${meta.date} · Node ${meta.node} · load ${meta.load.join(' → ')} · ${meta.seconds} s · \`node bench/faults/run.mjs\``,
    '',
    'One fresh process per cell, 2 workers. **survived**: the faulted future settled, a fresh task then completed and the pool closed; **pending**: futures still unsettled after 10 s; **left**: processes started by the cell (its pool, workers, their children and daemons) still alive 1 s after the cell ended (parent-kill: after its process was SIGKILLed with both workers busy in endless loops). Every left process is killed afterwards. See bench/README.md "Fault matrix".',
    '',
    `| fault | ${libs.join(' | ')} |`,
    `|---|${libs.map(() => '---').join('|')}|`,
  ];
  for (const fault of faults) {
    const row = libs.map((lib) => {
      const r = results.find((x) => x.lib === lib && x.fault === fault);
      return r ? cell(r) : '';
    });
    lines.push(`| ${fault} | ${row.join(' | ')} |`);
  }
  return `${lines.join('\n')}\n`;
}

async function main() {
  const started = Date.now();
  const load = [loadavg()[0].toFixed(2)];
  const redis = libs.includes('bullmq') ? await startRedis() : undefined;
  const results = [];
  try {
    for (const fault of faults) {
      for (const lib of libs) {
        const t = Date.now();
        const r = await runCase(lib, fault, redis ? { FAULT_REDIS_PORT: String(redis.port) } : {});
        results.push(r);
        console.log(
          `${fault.padEnd(22)} ${lib.padEnd(12)} ${cell(r)}  (${((Date.now() - t) / 1000).toFixed(1)} s)`,
        );
      }
    }
  } finally {
    await redis?.stop();
  }
  load.push(loadavg()[0].toFixed(2));
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    load,
    seconds: Math.round((Date.now() - started) / 1000),
  };
  const md = render(meta, results);
  mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
  const name = args.out ? `faults-${args.out}` : 'faults';
  writeFileSync(new URL(`../results/${name}.md`, import.meta.url), md);
  writeFileSync(
    new URL(`../results/${name}.json`, import.meta.url),
    `${JSON.stringify({ meta, results }, null, 2)}\n`,
  );
  console.log(`\n${md}\nwrote bench/results/${name}.md, ${name}.json`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

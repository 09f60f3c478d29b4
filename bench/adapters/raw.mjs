// The limit: child_process.fork with a minimal dispatcher (a FIFO queue, at
// most `inFlight` messages outstanding per worker, SIGKILL on timeout, a fresh
// fork when a worker dies). Variants: serialization 'advanced' | 'json'.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../workers/raw-worker.cjs', import.meta.url));

export async function create({
  workers = 2,
  serialization = 'advanced',
  inFlight = 1,
  awaitReady = true,
} = {}) {
  const queue = [];
  let head = 0;
  let nextId = 0;
  let closing = false;
  const live = new Set();
  const startListeners = [];

  function spawn() {
    const child = fork(script, [], {
      serialization,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const w = { child, jobs: new Map(), ready: false };
    live.add(w);
    const started = new Promise((resolve) => {
      child.on('message', (m) => {
        if (m.ready) {
          w.ready = true;
          for (const cb of startListeners) cb(child.pid);
          resolve();
          dispatch();
          return;
        }
        const job = w.jobs.get(m.i);
        if (!job) return;
        w.jobs.delete(m.i);
        clearTimeout(job.timer);
        if ('e' in m) job.reject(new Error(m.e));
        else job.resolve(m.r);
        dispatch();
      });
    });
    child.on('exit', (code, signal) => {
      live.delete(w);
      for (const job of w.jobs.values()) {
        clearTimeout(job.timer);
        job.reject(new Error(`worker ${child.pid} died (code ${code}, signal ${signal})`));
      }
      w.jobs.clear();
      if (!closing) spawn();
    });
    return started;
  }

  function dispatch() {
    for (const w of live) {
      while (w.ready && w.jobs.size < inFlight && head < queue.length) {
        const job = queue[head];
        queue[head++] = undefined;
        if (head > 4096 && head * 2 > queue.length) {
          queue.splice(0, head);
          head = 0;
        }
        w.jobs.set(job.i, job);
        if (job.timeout !== undefined) {
          job.timer = setTimeout(() => {
            w.jobs.delete(job.i);
            w.ready = false; // dying: hand it nothing more
            w.child.kill('SIGKILL');
            job.reject(new Error(`task timed out after ${job.timeout} ms`));
          }, job.timeout);
        }
        w.child.send({ i: job.i, f: job.f, a: job.a });
      }
    }
  }

  // Tasks wait in the queue until a worker is ready (dispatch); `cold` does not wait here.
  const started = Promise.all(Array.from({ length: workers }, spawn));
  if (awaitReady) await started;

  return {
    timeoutSupport: 'task',
    call(f, a, options = {}) {
      return new Promise((resolve, reject) => {
        queue.push({
          i: nextId++,
          f,
          a,
          resolve,
          reject,
          timeout: options.timeout,
          timer: undefined,
        });
        dispatch();
      });
    },
    onWorkerStart(cb) {
      startListeners.push(cb);
    },
    async close() {
      closing = true;
      await Promise.all(
        [...live].map(
          (w) =>
            new Promise((resolve) => {
              if (w.child.exitCode !== null || w.child.signalCode !== null) return resolve();
              const kill = setTimeout(() => w.child.kill('SIGKILL'), 2000);
              w.child.once('exit', () => {
                clearTimeout(kill);
                resolve();
              });
              // A worker killed at its timeout may have lost its channel before its exit.
              if (w.child.connected) w.child.disconnect();
            }),
        ),
      );
    },
  };
}

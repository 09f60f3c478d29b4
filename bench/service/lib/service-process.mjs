// The example service (examples/service/server.mjs) as a child process of
// the load test: started on a free loopback port, its JSON log lines parsed,
// stopped with SIGTERM, and checked afterwards for processes left behind.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  descendantsOf,
  identities,
  isStillRunning,
  killIdentities,
  processesWithEnv,
} from '../../lib/procs.mjs';

const SERVER = fileURLToPath(new URL('../../../examples/service/server.mjs', import.meta.url));
/** Every process the service starts inherits this variable: what carries it after the end was left behind. */
export const TAG_KEY = 'DEADPOOL_SERVICE_LOAD_TAG';

/**
 * Start the service. `mode`: 'pool' or 'inline'; `faults`: expose the poison
 * and debug routes; `env`: more settings (see examples/service/config.mjs).
 */
export function startService({ mode, faults, env = {}, tag }) {
  const child = spawn(process.execPath, [SERVER], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      SERVICE_MODE: mode,
      SERVICE_FAULTS: faults ? '1' : '0',
      LOG_LEVEL: 'info',
      [TAG_KEY]: tag,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs = [];
  let stderr = '';
  let partial = '';
  let onLog = () => {};
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop();
    for (const line of lines) {
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        continue; // not a log line
      }
      logs.push(entry);
      onLog(entry);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const ready = new Promise((resolve, reject) => {
    onLog = (entry) => {
      if (entry.msg === 'service ready') resolve(`http://127.0.0.1:${entry.port}`);
    };
    void exited.then(({ code, signal }) =>
      reject(
        new Error(
          `the service exited before it was ready (code ${code}, signal ${signal}): ${stderr.slice(-2000)}`,
        ),
      ),
    );
  });
  return {
    child,
    pid: child.pid,
    /** Resolves with the base URL once the service listens. */
    ready,
    /** Resolves with `{ code, signal }` when the service has exited. */
    exited,
    logs,
    stderr: () => stderr,
    /** The 'final statistics' entry the service logs at the end of its shutdown. */
    final: () => logs.find((entry) => entry.msg === 'final statistics'),
  };
}

/**
 * SIGTERM the service and wait for it to exit (SIGKILL after `graceMs`, then
 * it counts as hung). Returns how it ended and what it left behind: the
 * processes that were its descendants before the SIGTERM and any carrying
 * the tag, looked for at the exit and again after up to `settleMs`.
 */
export async function terminate(service, tag, { graceMs = 60_000, settleMs = 2_000 } = {}) {
  // Known by identity from here on: by the time they are checked again, a
  // pid that exited may have been handed to someone else.
  const before = identities(descendantsOf(service.pid));
  const started = performance.now();
  service.child.kill('SIGTERM');
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    service.child.kill('SIGKILL');
  }, graceMs);
  const { code, signal } = await service.exited;
  clearTimeout(timer);
  const exitMs = performance.now() - started;
  const left = () => {
    const ids = [...before, ...identities(processesWithEnv(TAG_KEY, tag))].filter(isStillRunning);
    return [...new Map(ids.map((id) => [id.pid, id])).values()];
  };
  const atExit = left();
  let after = atExit;
  for (const deadline = Date.now() + settleMs; after.length > 0 && Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    after = left();
  }
  killIdentities(after); // never leave them running on the machine
  const pids = (ids) => ids.map(({ pid }) => pid);
  return { code, signal, hung, exitMs, leftAtExit: pids(atExit), left: pids(after) };
}

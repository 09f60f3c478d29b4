/**
 * The service example (docs/serving.md) under the fault mix of
 * `npm run bench:service`, shorter: autocannon on its work endpoints while a
 * poisoner sends each poison, a killer SIGKILLs workers and clients leave
 * mid-request; then SIGTERM. The run ends on conditions (every poison
 * answered by its own fault, kills landed, work done), not on a clock, so a
 * slow machine only makes it longer.
 */
import { describe, expect, it } from 'vitest';
import { POISONS, runFaultMix } from '../bench/service/lib/fault-mix.mjs';
import { mulberry32 } from './helpers/index.js';

describe('the service example under load with faults', () => {
  it(
    'never crashes, explains every non-2xx by a kill or a poison, balances its statistics, exits 0 on SIGTERM and leaves nothing',
    // About 20 s alone on 2 cores (one endless loop costs a full timeout); minutes when loaded.
    { timeout: 600_000 },
    async () => {
      const result = await runFaultMix({
        mode: 'pool',
        faults: true,
        connections: 4,
        random: mulberry32(0x5e71ce),
        env: {
          // Generous for tasks of a few ms, so that only the endless loop (or a runaway
          // allocation slower than the memory limit) times out, however loaded the machine.
          SERVICE_TIMEOUT_MS: '10000',
          // Never reached by a request that merely waits behind faults.
          SERVICE_QUEUE_TIMEOUT_MS: '600000',
        },
        queueTimeouts: false,
        until: (p) =>
          POISONS.every((kind) => (p.poisonsOwn[kind] ?? 0) >= 1) &&
          p.kills >= 3 &&
          p.workOk >= 50 &&
          p.disconnects >= 10,
        boundMs: 480_000,
      });
      const { service, balance, notOk, faults } = result;
      const context = `stderr: ${service.stderr.slice(-2_000)}`;

      expect(result.boundHit, `the fault mix did not complete: ${JSON.stringify(faults)}`).toBe(
        false,
      );
      expect(service.exit, context).toMatchObject({ code: 0, signal: null, hung: false });
      expect(service.crashed, context).toBe(false);
      expect(service.warnings, 'warnings or errors on the service stderr').toEqual([]);
      expect(service.errorLogs, 'error logs of the service').toEqual([]);

      // Every poison kind was answered by its own fault at least once, and every
      // non-2xx, of the work and of the poisons, is explained.
      expect(faults.poisonErrors).toEqual([]);
      const causes = notOk.causes;
      expect(causes['504 poison loop: timeout']).toBeGreaterThan(0);
      expect(causes['502 poison exit: process.exit(3)']).toBeGreaterThan(0);
      expect(causes['502 poison spawn: children, then process.exit(4)']).toBeGreaterThan(0);
      expect(
        (causes['502 poison runaway: memoryLimitBytes'] ?? 0) +
          (causes['504 poison runaway: timeout before memoryLimitBytes'] ?? 0),
      ).toBeGreaterThan(0);
      expect(notOk.unexplained).toEqual([]);
      expect(result.work.errors, 'connection errors or timeouts on the work load').toBe(0);
      expect(result.health.failures, '/health probes that failed').toBe(0);

      // The pool's statistics add up, and agree with the responses the service wrote.
      const stats = service.final!.statistics!;
      expect(balance?.balanced, JSON.stringify(stats)).toBe(true);
      expect(stats.workerProcessesStillAlive).toBe(0);
      const byStatus = service.final!.responses;
      const n = (status: number): number => byStatus[status] ?? 0;
      // Each 502 or 504 is one failed task; a failed task whose client left is a 499 instead.
      expect(stats.tasksFailed).toBeGreaterThanOrEqual(n(502) + n(504));
      expect(stats.tasksFailed).toBeLessThanOrEqual(n(502) + n(504) + n(499));
      // A cancelled task is always a client that left (nothing else cancels here).
      expect(stats.tasksCancelled).toBeLessThanOrEqual(n(499));
      expect(n(500)).toBe(0);
      // The kills, process.exit and the spawn poison (a kill may also land on a worker the
      // pool was already ending for another reason, which then keeps that reason).
      expect(stats.workerExits.crashed).toBeGreaterThan(0);

      // Nothing left: not the workers, not the children the spawn poison started.
      expect(result.leftovers.atExit).toEqual([]);
      expect(result.leftovers.after).toEqual([]);
    },
  );
});

/**
 * The operations kit against a real Prometheus (docs/operating.md): a server
 * scrapes the service example every second, with the rules of
 * ops/prometheus loaded, while a short load with faults runs (requests, an
 * endless loop that times out, process.exit, a runaway allocation, a leak,
 * clients that leave). Then every query of the Grafana dashboard (its
 * variables filled from their own label_values queries) and every rule's
 * expression is asked of the server's HTTP API: each returns data, or the
 * test names the series it needs and why there is none. Last, the
 * counters Prometheus scraped equal the pool's own getStatistics().
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import type { DeadpoolStatistics } from '../dist/index.js';
import { waitFor } from './helpers/events.js';
import { killAfterTest } from './helpers/processes.js';
import {
  dashboardQueries,
  RULES_PATH,
  ruleExpressions,
  substitute,
  variableQueries,
} from './helpers/ops.js';
import {
  startPrometheus,
  type InstantSample,
  type PrometheusServer,
} from './helpers/prometheus.js';
import { startExampleService } from './helpers/service.js';
import { quiet, runLoad, scrape } from './helpers/service-load.js';
import { describeWithCommands } from './helpers/tools.js';

const JOB = 'deadpool-service';
/** The faults, in turn: a timeout, a crash, a memoryLimit kill (or a timeout), a leak. */
const POISONS = ['loop', 'exit', 'runaway', 'leak', 'exit', 'loop'];
const CAPTURE = process.env.DEADPOOL_OPS_CAPTURE;
/** Scrapes of the load wanted before it stops (a longer run when capturing for the docs). */
const SCRAPES = CAPTURE ? 45 : 8;

const value = (samples: InstantSample[]): number => Number(samples[0]?.value[1] ?? NaN);
const hasData = (samples: InstantSample[]): boolean =>
  samples.some((s) => Number.isFinite(Number(s.value[1])));

describeWithCommands(
  'a real Prometheus scraping the service example',
  ['prometheus'],
  ([binary]) => {
    test(
      'answers every dashboard query and rule expression with data that agrees with getStatistics()',
      { timeout: CAPTURE ? 180_000 : 90_000 },
      async () => {
        const begun = performance.now();
        const service = startExampleService({
          SERVICE_WORKERS: '2',
          SERVICE_TIMEOUT_MS: '2000',
          SERVICE_QUEUE_TIMEOUT_MS: '20000',
          SERVICE_MEMORY_LIMIT_MIB: '160',
          LOG_LEVEL: 'info',
        });
        // A last resort should the test time out before its finally: never leave it running.
        killAfterTest([service.pid]);
        let prometheus: PrometheusServer | undefined;
        const answers = new Map<string, InstantSample[]>();
        const counters = new Map<string, number>();
        let cpuExported = false;
        let stats: DeadpoolStatistics | undefined;
        let exit: { code: number | null; signal: string | null; ms: number } | undefined;
        try {
          const base = await service.ready;
          prometheus = await startPrometheus(binary!, {
            target: base.slice('http://'.length),
            job: JOB,
            ruleFiles: [fileURLToPath(RULES_PATH)],
          });
          killAfterTest([prometheus.pid]);
          const loadStart = Date.now() / 1000;
          const server = prometheus;
          await runLoad(base, POISONS, {
            enough: async () => value(await server.query('count_over_time(up[1m])')) >= SCRAPES,
            timeoutMs: 20_000 + SCRAPES * 1_000,
            what: `${SCRAPES} scrapes during the load`,
          });
          const own = await waitFor(
            async () => {
              const m = await scrape(base);
              return quiet(m) ? m : undefined;
            },
            { timeoutMs: 20_000, intervalMs: 100, what: 'the pool at rest' },
          );
          cpuExported = [...own.keys()].some((k) => k.startsWith('deadpool_task_cpu_seconds'));
          // A scrape after the pool came to rest: Prometheus has its final counters.
          const rest = Date.now() / 1000;
          await waitFor(
            async () =>
              value(await prometheus!.query('timestamp(deadpool_tasks_received_total)')) > rest,
            { timeoutMs: 10_000, intervalMs: 100, what: 'a scrape after the pool came to rest' },
          );
          await waitFor(
            async () => {
              const groups = await fetch(`${prometheus!.url}/api/v1/rules`).then((r) => r.json());
              const rules = (
                groups as {
                  data: { groups: { rules: { health: string; lastEvaluation: string }[] }[] };
                }
              ).data.groups.flatMap((g) => g.rules);
              return (
                rules.length > 0 &&
                rules.every((r) => r.health === 'ok' && Date.parse(r.lastEvaluation) / 1000 > rest)
              );
            },
            {
              timeoutMs: 10_000,
              intervalMs: 100,
              what: 'every rule evaluated, healthy, after the rest',
            },
          );

          // The variables, filled as Grafana would: from their own label_values queries.
          const values: Record<string, string[]> = { __rate_interval: ['1m'] };
          for (const [name, query] of variableQueries()) {
            const [, selector, label] = /^label_values\((.*), (\w+)\)$/.exec(query)!;
            const found = await prometheus.labelValues(label!, substitute(selector!, values));
            // The example labels no pool: Grafana's "All" (.*) also matches a missing label.
            if (name === 'pool') expect(found).toEqual([]);
            else expect(found.length, `the values of $${name}`).toBeGreaterThan(0);
            values[name] = found.length > 0 ? found : ['.*'];
          }
          expect(values.job).toEqual([JOB]);

          for (const { panel, expr } of dashboardQueries()) {
            answers.set(`${panel}: ${expr}`, await prometheus.query(substitute(expr, values)));
          }
          for (const rule of ruleExpressions()) {
            answers.set(
              `${rule.kind} ${rule.name}: ${rule.expr}`,
              await prometheus.query(rule.expr),
            );
            if (rule.kind === 'record')
              answers.set(`recorded ${rule.name}`, await prometheus.query(rule.name));
          }
          for (const key of [
            'deadpool_tasks_received_total',
            'deadpool_tasks_timed_out_total',
            'deadpool_workers_created_total',
          ])
            counters.set(key, value(await prometheus.query(key)));
          for (const s of await prometheus.query('sum by (outcome) (deadpool_tasks_total)'))
            counters.set(`outcome ${s.metric.outcome}`, Number(s.value[1]));
          for (const s of await prometheus.query('deadpool_worker_exits_total'))
            counters.set(`exit ${s.metric.reason}`, Number(s.value[1]));
          if (CAPTURE) {
            const end = Date.now() / 1000;
            // For docs/img (docs/img/panels.mjs draws them): each panel's series over the run.
            const series: { panel: string; legend: string; result: unknown }[] = [];
            for (const { panel, expr, legend } of dashboardQueries()) {
              const query = substitute(expr, { ...values, __rate_interval: ['5s'] });
              const result = await prometheus.queryRange(query, loadStart - 2, end, 1);
              series.push({ panel, legend, result });
            }
            writeFileSync(CAPTURE, JSON.stringify({ loadStart, end, series }));
          }
        } finally {
          await prometheus?.stop();
          const stopping = performance.now();
          const stopped = await service.stop();
          stats = stopped.statistics;
          exit = {
            code: stopped.code,
            signal: stopped.signal,
            ms: Math.round(performance.now() - stopping),
          };
        }

        // Every query answered with data, but the CPU panel's, before the pool exports it.
        const empty = [...answers].filter(([, samples]) => !hasData(samples)).map(([key]) => key);
        const alerts = empty.filter((key) => key.startsWith('alert '));
        const fired = [...answers.keys()].filter(
          (k) => k.startsWith('alert ') && !alerts.includes(k),
        );
        console.info(
          `[deadpool] ${answers.size} expressions asked of Prometheus; alert conditions met by the faults: ${fired.map((k) => k.split(':')[0]).join(', ') || 'none'}; statistics: ${JSON.stringify({ received: stats?.tasksReceived, failed: stats?.tasksFailed, timedOut: stats?.tasksTimedOut, cancelled: stats?.tasksCancelled, exits: stats?.workerExits })}`,
        );
        const cpu = empty.filter((key) => key.includes('deadpool_task_cpu_seconds'));
        if (!cpuExported && cpu.length > 0)
          console.info(
            `[deadpool] no data, as expected: ${cpu.length} CPU query: the pool does not export deadpool_task_cpu_seconds yet`,
          );
        // An alert's expression is empty while its condition does not hold: not an error.
        expect(
          empty.filter((key) => !alerts.includes(key) && !(!cpuExported && cpu.includes(key))),
        ).toEqual([]);
        expect(answers.size).toBeGreaterThan(20);

        // The faults happened, and Prometheus's counters are the pool's statistics.
        // The service shut down cleanly: SIGTERM, the server, then the pool, and exit 0.
        expect(
          { code: exit?.code, signal: exit?.signal },
          `${service.stderr()}\n${service
            .logs()
            .slice(-12)
            .map((l) => JSON.stringify(l))
            .join('\n')}`,
        ).toEqual({
          code: 0,
          signal: null,
        });
        expect(stats, service.stderr()).toBeDefined();
        const s = stats!;
        expect(s.tasksTimedOut).toBeGreaterThanOrEqual(1);
        expect(s.workerExits.crashed).toBeGreaterThanOrEqual(2);
        expect(counters.get('deadpool_tasks_received_total')).toBe(s.tasksReceived);
        expect(counters.get('deadpool_tasks_timed_out_total')).toBe(s.tasksTimedOut);
        expect(counters.get('deadpool_workers_created_total')).toBe(s.workerProcessesCreated);
        expect(counters.get('outcome completed')).toBe(s.tasksCompleted);
        expect(counters.get('outcome failed')).toBe(s.tasksFailed);
        expect(counters.get('outcome cancelled')).toBe(s.tasksCancelled);
        for (const [reason, n] of Object.entries(s.workerExits)) {
          const scraped = counters.get(`exit ${reason}`);
          // Shutdown came after the last scrape; an idle worker may retire between the two.
          if (reason === 'shutdown') expect(scraped).toBe(0);
          else if (reason === 'idle') expect(scraped).toBeLessThanOrEqual(n);
          else expect(scraped, reason).toBe(n);
        }
        if (!CAPTURE) expect(performance.now() - begun).toBeLessThan(60_000);
      },
    );
  },
);

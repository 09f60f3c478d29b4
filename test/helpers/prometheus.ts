/**
 * A real Prometheus server for one test: a plain child of the test process on
 * a free loopback port, with its own configuration and storage in a
 * temporary directory (removed after the test), scraping the given targets
 * every second and evaluating the given rule files. `stop()` ends it and
 * waits until it is gone. Queried over its HTTP API.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from './events.js';
import { tempDir } from './files.js';
import { isAlive } from './processes.js';
import { freePort } from './tools.js';

/** One series of an instant query: its labels and `[unix seconds, value as text]`. */
export interface InstantSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** One series of a range query. */
export interface RangeSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

export interface PrometheusServer {
  readonly url: string;
  readonly pid: number;
  /** An instant query at `time` (unix seconds; now by default). Throws on a query error. */
  query(expr: string, time?: number): Promise<InstantSample[]>;
  /** A range query from `start` to `end` (unix seconds), one point per `step` seconds. */
  queryRange(expr: string, start: number, end: number, step: number): Promise<RangeSeries[]>;
  /** The values of `label` on the series matching `match`. */
  labelValues(label: string, match: string): Promise<string[]>;
  /** The server's output so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** `host:port` to scrape at /metrics, under job `job`. */
  target: string;
  job: string;
  /** Absolute paths of rule files to load. */
  ruleFiles?: string[];
}

async function api<T>(url: string): Promise<T> {
  const response = await fetch(url);
  const body = (await response.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`${url}: ${body.error ?? response.status}`);
  return body.data;
}

/** Start Prometheus (`binary`) and resolve once it answers /-/ready. */
export async function startPrometheus(
  binary: string,
  { target, job, ruleFiles = [] }: PrometheusOptions,
): Promise<PrometheusServer> {
  const dir = tempDir();
  const config = join(dir, 'prometheus.yml');
  // JSON is YAML.
  writeFileSync(
    config,
    JSON.stringify({
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: ruleFiles,
      scrape_configs: [{ job_name: job, static_configs: [{ targets: [target] }] }],
    }),
  );
  const port = await freePort();
  const child = spawn(
    binary,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid!;
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    if (isAlive(pid)) throw new Error(`prometheus ${pid} is still alive after stop()`);
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`prometheus exited: ${output.slice(-2_000)}`);
        return fetch(`${url}/-/ready`).then(
          (r) => r.ok,
          () => false,
        );
      },
      { timeoutMs: 20_000, what: 'prometheus to be ready' },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    pid,
    query: async (expr, time) => {
      const at = time === undefined ? '' : `&time=${time}`;
      const data = await api<{ result: InstantSample[] }>(
        `${url}/api/v1/query?query=${encodeURIComponent(expr)}${at}`,
      );
      return data.result;
    },
    queryRange: async (expr, start, end, step) => {
      const data = await api<{ result: RangeSeries[] }>(
        `${url}/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${start}&end=${end}&step=${step}`,
      );
      return data.result;
    },
    labelValues: (label, match) =>
      api<string[]>(`${url}/api/v1/label/${label}/values?match[]=${encodeURIComponent(match)}`),
    output: () => output,
    stop,
  };
}

/**
 * The Prometheus rules shipped in ops/prometheus (docs/operating.md): they
 * load (`promtool check rules`), their unit tests pass (`promtool test
 * rules`), and every alert has a case that fires it and one that must not,
 * with its runbook and its default threshold written down.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { describeWithCommands } from './helpers/tools.js';

const ROOT = new URL('../ops/prometheus/', import.meta.url);
const RULES = 'deadpool-rules.yml';
const rules = readFileSync(new URL(RULES, ROOT), 'utf8');
const testFiles = readdirSync(new URL('tests/', ROOT)).filter((f) => f.endsWith('.yml'));
const tests = testFiles.map((f) => readFileSync(new URL(`tests/${f}`, ROOT), 'utf8'));

/** The alerts of the rules file, each with its text up to the next rule. */
function alerts(): Map<string, string> {
  const out = new Map<string, string>();
  const parts = rules.split(/^ {6}- (?=alert:|record:)/m);
  for (const part of parts) {
    const name = /^alert: (\w+)/.exec(part)?.[1];
    if (name !== undefined) out.set(name, part);
  }
  return out;
}

describeWithCommands('the Prometheus rules (promtool)', ['promtool'], ([promtool]) => {
  const run = (args: string[]) =>
    spawnSync(promtool!, args, { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });

  test('promtool check rules accepts the rules file', () => {
    const result = run(['check', 'rules', RULES]);
    expect({ status: result.status, output: result.stdout + result.stderr }).toMatchObject({
      status: 0,
      output: expect.stringMatching(/SUCCESS: \d+ rules found/),
    });
  });

  test('promtool test rules passes every unit test in ops/prometheus/tests', () => {
    expect(testFiles.length).toBeGreaterThanOrEqual(7);
    const result = run(['test', 'rules', ...testFiles.map((f) => `tests/${f}`)]);
    const output = result.stdout + result.stderr;
    expect({ status: result.status, output }).toEqual({ status: 0, output });
    expect(output.match(/SUCCESS/g)).toHaveLength(testFiles.length);
  });
});

test('every alert has a unit test that fires it and one that must not', () => {
  const names = [...alerts().keys()];
  expect(names).toEqual(
    expect.arrayContaining([
      'DeadpoolWorkersCrashLooping',
      'DeadpoolTimeoutsRising',
      'DeadpoolBacklogNearLimit',
      'DeadpoolQueueWaitHigh',
      'DeadpoolNoWorkerAlive',
      'DeadpoolMemoryLimitKills',
    ]),
  );
  for (const name of names) {
    const checks = tests.flatMap((text) =>
      text.split(/^ {6}- eval_time:/m).filter((c) => c.includes(`alertname: ${name}\n`)),
    );
    expect(
      checks.some((c) => /exp_alerts:\n\s+- exp_labels:/.test(c)),
      `${name} fires`,
    ).toBe(true);
    expect(
      checks.some((c) => /exp_alerts: \[\]/.test(c)),
      `${name} stays silent`,
    ).toBe(true);
  }
});

test('every alert has a severity, a summary, a runbook and its default threshold', () => {
  for (const [name, text] of alerts()) {
    expect(text, name).toMatch(/severity: (critical|warning)/);
    for (const key of ['threshold', 'summary', 'description', 'runbook'])
      expect(text, `${name} ${key}`).toMatch(new RegExp(`^ {10}${key}: `, 'm'));
    expect(text, name).toMatch(/# threshold \(default [^)]+\)/);
  }
});

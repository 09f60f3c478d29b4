import { defineConfig } from 'vitest/config';

/**
 * Test files that must have the host to themselves: they check that a dead
 * pool's cgroups are still there until a pool starts, and every kernel-contained
 * pool that starts on the host, in any test file, removes them
 * (docs/containment.md). They run one at a time, after all the others.
 */
const alone = ['test/containment-parent-death.test.ts'];

export default defineConfig({
  test: {
    // Tests start real processes; two test files at a time on a 2-core machine.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // A flaky test is a defect to fix, never to retry.
    retry: 0,
    // The pools' code cache goes in a directory of the run's own.
    globalSetup: ['test/helpers/code-cache-dir.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: alone },
      },
      {
        extends: true,
        test: { name: 'alone', include: alone, sequence: { groupOrder: 1 } },
      },
    ],
  },
});

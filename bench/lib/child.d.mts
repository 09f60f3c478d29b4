// Types for child.mjs, for the test suite (test/bench-child.test.ts).

export declare const RESULT_EXIT_MS: number;

export interface ChildOptions {
  execArgv?: string[];
  env?: Record<string, string>;
  /** The child is SIGKILLed after this long, result or not. */
  limitMs?: number;
  /** ...and this long after it printed its result. */
  exitMs?: number;
  /** The script run instead of bench/scenario.mjs (tests). */
  script?: string;
}

export declare function runChild(
  lib: string,
  scenario: string,
  params: unknown,
  options?: ChildOptions,
): Promise<Record<string, unknown> & { orphans_after_exit: number[] }>;

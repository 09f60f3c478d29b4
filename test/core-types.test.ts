/**
 * Types (docs/api.md "Tasks": "Types flow from the task to the caller"): submit infers argument and result
 * types, and a wrong argument list is a compile error. Checked by
 * `npm run typecheck`; the functions below are never called at run time.
 */
import { describe, expectTypeOf, test } from 'vitest';
import {
  asCompleted,
  BacklogFullError,
  CancelledError,
  Deadpool,
  DeadpoolError,
  defineTask,
  Future,
  MemoryLimitError,
  NestedPoolError,
  PoolClosedError,
  ProcessError,
  SerializationError,
  task,
  taskSignal,
  TimeoutError,
  wait,
  WorkerStartError,
  type DeadpoolOptions,
  type ProgressCallback,
  type SubmitOptions,
} from '../dist/index.js';
import * as progress from './fixtures/core/progress.mjs';
import * as streams from './fixtures/core/streams.mjs';
import * as tasks from './fixtures/core/tasks.mjs';

function submitTypes(pool: Deadpool): void {
  // Defined tasks: arguments checked, result inferred.
  expectTypeOf(pool.submit(tasks.add, [1, 2])).toEqualTypeOf<Future<number>>();
  // @ts-expect-error a string where a number is expected
  pool.submit(tasks.add, ['1', 2]);
  // @ts-expect-error too few arguments
  pool.submit(tasks.add, [1]);
  // @ts-expect-error too many arguments
  pool.submit(tasks.add, [1, 2, 3]);
  // @ts-expect-error arguments are required for a task that takes some
  pool.submit(tasks.add);

  // An async task's future carries the awaited result, not a promise.
  expectTypeOf(pool.submit(tasks.span, [10])).toEqualTypeOf<
    Future<{ pid: number; start: number; end: number }>
  >();

  // A defineTask handle made here carries its function's type.
  const resize = defineTask(
    import.meta.url,
    'resize',
    async (img: Buffer, width: number) => img.length * width,
  );
  expectTypeOf(resize).toBeCallableWith(Buffer.alloc(1), 2);
  expectTypeOf(pool.submit(resize, [Buffer.alloc(1), 10])).toEqualTypeOf<Future<number>>();
  // @ts-expect-error width must be a number
  pool.submit(resize, [Buffer.alloc(1), '10']);

  // Module references carry the type given to task<F>().
  const greet = task<(name: string) => Promise<string>>('/abs/greet.mjs', 'greet');
  expectTypeOf(pool.submit(greet, ['ada'])).toEqualTypeOf<Future<string>>();
  // @ts-expect-error name must be a string
  pool.submit(greet, [42]);
  const viaImportType = task<typeof tasks.square>(new URL('file:///abs/tasks.mjs'), 'square');
  expectTypeOf(pool.submit(viaImportType, [3])).toEqualTypeOf<Future<number>>();

  // Self-contained functions are inferred too.
  expectTypeOf(pool.submit((a: number, b: string) => `${a}${b}`, [1, 'x'])).toEqualTypeOf<
    Future<string>
  >();
  expectTypeOf(pool.submit(async () => true)).toEqualTypeOf<Future<boolean>>();
  // @ts-expect-error b must be a string
  pool.submit((a: number, b: string) => `${a}${b}`, [1, 2]);

  // Submit options.
  pool.submit(tasks.add, [1, 2], {
    timeout: 1,
    softTimeout: 0.5,
    priority: 0,
    signal: AbortSignal.timeout(1),
    name: 'n',
  });
  // @ts-expect-error unknown submit option
  pool.submit(tasks.add, [1, 2], { retries: 3 });
}

function futureTypes(future: Future<number>): void {
  expectTypeOf(future.pid).toEqualTypeOf<number | undefined>();
  expectTypeOf(future.running()).toEqualTypeOf<boolean>();
  expectTypeOf(future.done()).toEqualTypeOf<boolean>();
  expectTypeOf(future.cancelled()).toEqualTypeOf<boolean>();
  expectTypeOf(future.cancel()).toEqualTypeOf<boolean>();
  expectTypeOf(future.cancelAndKill()).toEqualTypeOf<boolean>();
  expectTypeOf(future.result()).toEqualTypeOf<Promise<number>>();
  expectTypeOf(future.result(10)).toEqualTypeOf<Promise<number>>();
  expectTypeOf(future.exception()).toEqualTypeOf<Promise<Error | undefined>>();
  future.addDoneCallback((f) => expectTypeOf(f).toEqualTypeOf<Future<number>>());
  future.addPidCallback((f) => expectTypeOf(f.pid).toEqualTypeOf<number | undefined>());
  expectTypeOf(future).toExtend<PromiseLike<number>>();
  expectTypeOf(Promise.all([future, future])).resolves.toEqualTypeOf<[number, number]>();
}

async function poolTypes(pool: Deadpool, futures: Future<number>[]): Promise<void> {
  expectTypeOf(pool.map(tasks.square, [1, 2, 3])).toExtend<AsyncIterable<number>>();
  expectTypeOf(pool.map(tasks.square, (async function* () {})())).toExtend<AsyncIterable<number>>();
  // @ts-expect-error items must match the task's single parameter
  pool.map(tasks.square, ['a', 'b']);
  expectTypeOf(pool.shutdown()).toEqualTypeOf<Promise<void>>();
  expectTypeOf(pool.shutdown({ wait: false, cancelFutures: true })).toEqualTypeOf<Promise<void>>();
  expectTypeOf(pool[Symbol.asyncDispose]()).toEqualTypeOf<Promise<void>>();
  expectTypeOf(pool.recycleWorkers()).toEqualTypeOf<Promise<void>>();
  expectTypeOf(pool.ready()).toEqualTypeOf<Promise<void>>();
  expectTypeOf(pool.backlogBelow()).toEqualTypeOf<Promise<void>>();
  expectTypeOf(pool.backlogBelow(3)).toEqualTypeOf<Promise<void>>();
  pool.resize({ minWorkers: 1, maxWorkers: 2 });

  const stats = pool.getStatistics();
  expectTypeOf(stats.tasksReceived).toEqualTypeOf<number>();
  expectTypeOf(stats.tasksLaunched).toEqualTypeOf<number>();
  expectTypeOf(stats.tasksFailed).toEqualTypeOf<number>();
  expectTypeOf(stats.workerProcessesCreated).toEqualTypeOf<number>();
  expectTypeOf(stats.maxWorkersBusyConcurrently).toEqualTypeOf<number>();
  expectTypeOf(stats.workerProcessesStillAlive).toEqualTypeOf<number>();
  expectTypeOf(stats.workerProcessesIdle).toEqualTypeOf<number>();
  expectTypeOf(stats.workerProcessesBusy).toEqualTypeOf<number>();

  const { done, notDone } = await wait(futures, { timeout: 10, returnWhen: 'FIRST_EXCEPTION' });
  expectTypeOf(done).toEqualTypeOf<Set<Future<number>>>();
  expectTypeOf(notDone).toEqualTypeOf<Set<Future<number>>>();
  // @ts-expect-error not a returnWhen mode
  await wait(futures, { returnWhen: 'SOMETIMES' });
  const iterator = asCompleted(futures, { timeout: 10 });
  expectTypeOf(iterator).toExtend<AsyncIterable<Future<number>>>();
  expectTypeOf(iterator.next()).resolves.toExtend<IteratorResult<Future<number>, unknown>>();
  // Note: `for await (const f of asCompleted(...))` types `f` as `number` (TypeScript awaits
  // thenables in for-await), although at run time `f` is the Future itself.

  expectTypeOf(taskSignal()).toEqualTypeOf<AbortSignal>();
}

function optionTypes(): void {
  const options: DeadpoolOptions = {
    maxWorkers: 4,
    minWorkers: 1,
    idleTimeout: 1_000,
    maxTasksPerChild: 10,
    maxWorkerMemoryBytes: 1e9,
    memoryLimitBytes: 2e9,
    maxBacklog: 100,
    timeout: 5_000,
    initializer: tasks.add,
    initargs: [1, 2],
    finalizer: tasks.pid,
    finalargs: [],
    env: () => ({ A: '1' }),
    execArgv: ['--max-old-space-size=100'],
    cwd: '/tmp',
    serialization: 'json',
    shutdownWait: false,
    shutdownCancelFutures: true,
  };
  new Deadpool(options);
  new Deadpool({ env: { A: '1' } });
  new Deadpool();
  // @ts-expect-error not an option
  new Deadpool({ workers: 4 });
  // @ts-expect-error serialization is 'advanced' or 'json'
  new Deadpool({ serialization: 'xml' });
}

interface Percent {
  percent: number;
}

function progressTypes(pool: Deadpool): void {
  // Annotating onProgress's value types it; the future's result stays inferred.
  const future = pool.submit(progress.count, [3], {
    onProgress: (value: Percent, f) => {
      expectTypeOf(value.percent).toEqualTypeOf<number>();
      expectTypeOf(f).toEqualTypeOf<Future<unknown>>();
    },
  });
  expectTypeOf(future).toEqualTypeOf<Future<number>>();
  // Unannotated, a progress value is unknown: it must be narrowed before use.
  pool.submit(progress.count, [3], {
    onProgress: (value) => {
      expectTypeOf(value).toEqualTypeOf<unknown>();
      // @ts-expect-error an unknown value has no property `percent`
      void value.percent;
    },
  });
  // map and stream take the same annotation.
  pool.map(progress.count, [1, 2], { onProgress: (value: Percent) => void value.percent });
  pool.stream(streams.count, [3], { onProgress: (value: Percent) => void value.percent });

  // A future's progress callback is generic in the same way, and gets the typed future.
  future.addProgressCallback((value: Percent, f) => {
    expectTypeOf(value.percent).toEqualTypeOf<number>();
    expectTypeOf(f).toEqualTypeOf<Future<number>>();
  });
  future.addProgressCallback((value) => {
    expectTypeOf(value).toEqualTypeOf<unknown>();
  });

  // The option types name the value type; unknown by default.
  expectTypeOf<SubmitOptions['onProgress']>().toEqualTypeOf<
    ProgressCallback<unknown, unknown> | undefined
  >();
  expectTypeOf<NonNullable<SubmitOptions<Percent>['onProgress']>>()
    .parameter(0)
    .toEqualTypeOf<Percent>();
  expectTypeOf<ProgressCallback<number, Percent>>().parameter(1).toEqualTypeOf<Future<number>>();
}

function errorTypes(): void {
  expectTypeOf<NestedPoolError>().toExtend<DeadpoolError>();
  expectTypeOf<NestedPoolError['code']>().toEqualTypeOf<DeadpoolError['code']>();
  expectTypeOf<TimeoutError>().toExtend<DeadpoolError>();
  expectTypeOf<ProcessError>().toExtend<DeadpoolError>();
  expectTypeOf<MemoryLimitError>().toExtend<DeadpoolError>();
  expectTypeOf<CancelledError>().toExtend<DeadpoolError>();
  expectTypeOf<PoolClosedError>().toExtend<DeadpoolError>();
  expectTypeOf<BacklogFullError>().toExtend<DeadpoolError>();
  expectTypeOf<SerializationError>().toExtend<DeadpoolError>();
  expectTypeOf<WorkerStartError>().toExtend<DeadpoolError>();
  expectTypeOf<DeadpoolError>().toExtend<Error>();
  expectTypeOf<MemoryLimitError>().toExtend<ProcessError>();
  expectTypeOf<MemoryLimitError['rss']>().toEqualTypeOf<number>();
  expectTypeOf<ProcessError['signal']>().toExtend<NodeJS.Signals | null | undefined>();
  expectTypeOf<ProcessError['exitCode']>().toExtend<number | null | undefined>();
  expectTypeOf<DeadpoolError['code']>().toExtend<string>();
}

describe('types', () => {
  test('the type checks in this file compile (they are checked by tsc, not run)', () => {
    expectTypeOf(submitTypes).toBeFunction();
    expectTypeOf(futureTypes).toBeFunction();
    expectTypeOf(poolTypes).toBeFunction();
    expectTypeOf(optionTypes).toBeFunction();
    expectTypeOf(errorTypes).toBeFunction();
    expectTypeOf(progressTypes).toBeFunction();
  });
});

/**
 * The pool's lifecycle: `ready()`, waiting for workers to be gone (recycle,
 * shutdown), the count of unsettled jobs, the closing flag, quiescence (timers
 * dropped once closed and done) and the keep-alive that holds the event loop
 * open while there is work. It settles no job and starts no worker.
 */
import { WorkerStartError } from '../shared/errors.js';
import type { Fleet } from './fleet.js';
import { KeepAlive } from './keep-alive.js';
import { MAX_START_FAILURES } from './policy.js';

export interface LifecycleHooks {
  /** Closing: wind down the workers that have nothing left to do. */
  windDown(): void;
  /** Closed, no job left and no worker: drop every timer. */
  quiet(): void;
}

interface Waiter {
  check: () => boolean;
  resolve: () => void;
}

export class Lifecycle {
  readonly #keepAlive = new KeepAlive();
  readonly #fleet: Fleet;
  readonly #hooks: LifecycleHooks;
  readonly #readyTarget: number;
  #ready = 0;
  #active = 0;
  #closing = false;
  #readyWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  #exitWaiters: Waiter[] = [];

  constructor(fleet: Fleet, readyTarget: number, hooks: LifecycleHooks) {
    this.#fleet = fleet;
    this.#readyTarget = readyTarget;
    this.#hooks = hooks;
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** Jobs submitted and not yet settled. */
  get active(): number {
    return this.#active;
  }

  jobAdded(): void {
    this.#active++;
    this.#keepAlive.set(true);
  }

  jobSettled(): void {
    this.#active--;
    if (this.#active === 0) queueMicrotask(() => this.check());
  }

  /** A worker reported ready for the first time. */
  workerReady(): void {
    this.#ready++;
    if (this.#ready < this.#readyTarget) return;
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    for (const waiter of waiters) waiter.resolve();
    this.check();
  }

  ready(): Promise<void> {
    if (this.#ready >= this.#readyTarget || this.#closing) return Promise.resolve();
    const { startFailures, lastStartError } = this.#fleet;
    if (startFailures >= MAX_START_FAILURES) {
      return Promise.reject(
        new WorkerStartError(`workers keep failing to start: ${lastStartError?.message}`, {
          cause: lastStartError,
        }),
      );
    }
    this.#keepAlive.set(true);
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  /** Workers keep failing to start: whoever awaits `ready()` hears it. */
  failReady(failure: WorkerStartError): void {
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    for (const waiter of waiters) waiter.reject(failure);
  }

  /** From now on the pool is closing. */
  beginClose(): void {
    this.#closing = true;
  }

  /** Resolves once no job is left and every worker has exited. */
  whenClosed(): Promise<void> {
    return this.whenTrue(() => this.#fleet.size === 0 && this.#active === 0);
  }

  /** Resolves once `check()` holds, looked at after each settle and each exit. */
  whenTrue(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    this.#keepAlive.set(true);
    return new Promise((resolve) => this.#exitWaiters.push({ check, resolve }));
  }

  /** Release waiters whose condition now holds; drop timers and the keep-alive when there is nothing to do. */
  check(): void {
    if (this.#exitWaiters.length > 0) {
      this.#exitWaiters = this.#exitWaiters.filter((waiter) => {
        if (!waiter.check()) return true;
        waiter.resolve();
        return false;
      });
    }
    const workers = this.#fleet.size;
    if (this.#closing && this.#active === 0) this.#hooks.windDown();
    this.#keepAlive.set(
      this.#active > 0 ||
        this.#readyWaiters.length > 0 ||
        this.#exitWaiters.length > 0 ||
        (this.#closing && workers > 0),
    );
    if (this.#closing && workers === 0 && this.#active === 0) {
      this.#keepAlive.stop();
      this.#hooks.quiet();
    }
  }
}

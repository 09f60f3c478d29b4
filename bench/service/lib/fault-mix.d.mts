// Types for fault-mix.mjs, for the test suite (test/faults-service.test.ts).

export declare const POISONS: readonly ['loop', 'exit', 'runaway', 'leak', 'spawn'];
export type Poison = (typeof POISONS)[number];

export interface Progress {
  elapsedMs: number;
  /** Work requests answered 2xx so far. */
  workOk: number;
  /** Poison requests answered so far, by kind. */
  poisonsAnswered: Partial<Record<Poison, number>>;
  /** Those that ended by the poison's own fault (a timeout, an exit...; a leak succeeds), not by a kill. */
  poisonsOwn: Partial<Record<Poison, number>>;
  /** Workers the killer has SIGKILLed. */
  kills: number;
  /** Clients that disconnected mid-request. */
  disconnects: number;
}

export interface FaultMixOptions {
  mode?: 'pool' | 'inline';
  /** The poisoner and the killer (pool mode only). */
  faults?: boolean;
  /** A fixed length, or... */
  seconds?: number;
  /** ...stop once this returns true (checked every 200 ms), or after `boundMs`. */
  until?: (progress: Progress) => boolean;
  boundMs?: number;
  /** autocannon connections on the work endpoints. @default 8 */
  connections?: number;
  killEveryMs?: number;
  random?: () => number;
  /** The service's settings (examples/service/config.mjs), e.g. SERVICE_TIMEOUT_MS. */
  env?: Record<string, string>;
  /** Whether a 504 in the queue phase counts as explained. @default true */
  queueTimeouts?: boolean;
}

export interface ServiceResponse {
  route: string;
  kind?: Poison;
  status: number;
  body: any;
}

export interface Statistics {
  tasksReceived: number;
  tasksCompleted: number;
  tasksFailed: number;
  tasksCancelled: number;
  backlogSize: number;
  workerProcessesStillAlive: number;
  workerExits: Record<string, number>;
  [key: string]: unknown;
}

export interface FaultMixResult {
  mode: 'pool' | 'inline';
  elapsedS: number;
  /** True if `until` was still false at `boundMs`. */
  boundHit: boolean;
  work: {
    ok: number;
    rps: number;
    latencyMs: { p50: number; p99: number };
    non2xx: number;
    errors: number;
    timeouts: number;
  };
  health: {
    probes: number;
    failures: number;
    latencyMs: { p50: number | undefined; p99: number | undefined };
  };
  faults: {
    kills: number;
    poisons: Partial<Record<Poison, number>>;
    poisonErrors: string[];
    poisonResponses: ServiceResponse[];
    disconnects: number;
    disconnectsAnswered: number;
  };
  notOk: { causes: Record<string, number>; unexplained: ServiceResponse[] };
  service: {
    exit: { code: number | null; signal: string | null; hung: boolean; ms: number };
    crashed: boolean;
    final:
      | {
          statistics?: Statistics;
          responses: Record<string, number>;
          eventLoopDelayMs: { p50: number; p99: number; max: number };
        }
      | undefined;
    logs: Record<string, any>[];
    stderr: string;
    warnings: string[];
    errorLogs: Record<string, any>[];
  };
  balance:
    | { received: number; completed: number; failed: number; cancelled: number; balanced: boolean }
    | undefined;
  leftovers: { atExit: number[]; after: number[] };
}

export declare function runFaultMix(options: FaultMixOptions): Promise<FaultMixResult>;

/**
 * The pool's events and their payloads, spelled once: the facade's
 * EventEmitter is typed with them and the engine emits through `Emit`.
 * See docs/api.md, "Events".
 */

/** Why a worker exited. See docs/api.md, "Events". */
export type ExitReason =
  | 'idle'
  | 'maxTasks'
  | 'memory'
  | 'memoryLimit'
  | 'timeout'
  | 'killed'
  | 'crashed'
  | 'recycle'
  | 'shutdown'
  | 'startFailed';

export interface WorkerStartInfo {
  pid: number;
}

export interface WorkerExitInfo {
  pid: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  reason: ExitReason;
}

export interface TaskTimeoutInfo {
  pid: number;
  name: string | undefined;
  soft: boolean;
}

export interface DeadpoolEvents {
  workerStart: [info: WorkerStartInfo];
  workerExit: [info: WorkerExitInfo];
  taskTimeout: [info: TaskTimeoutInfo];
}

/** How the engine emits: the facade forwards to its listeners, and a throwing listener is a warning. */
export type Emit = <K extends keyof DeadpoolEvents>(name: K, ...args: DeadpoolEvents[K]) => void;

/**
 * `deadpool/task`: what a task module needs, without the pool. A worker that
 * imports a task module pays only for this (a few ms) instead of the whole
 * package with its dependencies (~50 ms), so workers start sooner.
 */
export { defineTask, task } from './shared/task.js';
export type { Task, TaskFunction, TaskHandle, TaskRef } from './shared/task.js';
export { taskSignal } from './shared/task-signal.js';
export { reportProgress } from './shared/progress.js';

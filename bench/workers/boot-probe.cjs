'use strict';
// Preloaded (`--require`) into deadpool's workers by the cold-breakdown
// scenario only. It observes and changes nothing: its marks (ms since this
// process's performance.timeOrigin) are read back by the `probe` task.
//   preload        Node finished bootstrapping and runs user code (this file)
//   entryLoaded    the worker entry and its imports finished evaluating: its
//                  last statement adds the process 'message' listener
//   recv_<t>       a message of type <t> ('init', 'run') reached the process's
//                  'message' listeners (first of each type)
//   done_<t>       the entry's own listener returned from it ('init': 'ready'
//                  sent, and the watchdog thread constructed where one runs)
//   threadCreated  process 'worker' event: a worker thread exists (deadpool: the watchdog, only where no sentinel runs)
//   threadOnline   that thread started running JavaScript
const marks = { preload: performance.now() };
globalThis.__benchBootMarks = marks;

process.on('worker', (thread) => {
  marks.threadCreated ??= performance.now();
  thread.once('online', () => (marks.threadOnline ??= performance.now()));
});

process.on('newListener', function watch(event) {
  if (event !== 'message') return;
  marks.entryLoaded = performance.now();
  process.off('newListener', watch);
  // Only once the entry listens, so no message can reach us and miss it:
  // one listener before the entry's and one after.
  queueMicrotask(() => {
    process.prependListener('message', (m) => (marks[`recv_${m?.t}`] ??= performance.now()));
    process.on('message', (m) => (marks[`done_${m?.t}`] ??= performance.now()));
  });
});

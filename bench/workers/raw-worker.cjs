'use strict';
// Child side of the raw child_process.fork baseline: the least a pool can do.
const fns = require('./fns.cjs');

process.on('message', async (m) => {
  try {
    process.send({ i: m.i, r: await fns[m.f](m.a) });
  } catch (error) {
    process.send({ i: m.i, e: String(error) });
  }
});
// With a callback, a channel closed before this (a close right after the
// first result, before this worker was up) is no crash.
process.send({ ready: true }, undefined, undefined, () => {});

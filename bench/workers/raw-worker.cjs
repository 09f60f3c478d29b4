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
process.send({ ready: true });

'use strict';
// BullMQ's sandboxed processor for the fault matrix: a job { f, a } runs the
// shared task body fns[f](a) in BullMQ's child process.
const fns = require('../workers/fns.cjs');

module.exports = async (job) => fns[job.data.f](job.data.a);

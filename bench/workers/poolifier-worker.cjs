'use strict';
const { ClusterWorker } = require('poolifier');
module.exports = new ClusterWorker({ ...require('./fns.cjs') });

'use strict';
const workerpool = require('workerpool');
workerpool.worker({ ...require('./fns.cjs') });

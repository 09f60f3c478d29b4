'use strict';
module.exports = require('./fns.cjs');

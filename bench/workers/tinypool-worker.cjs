'use strict';
// tinypool calls the named export with the single `data` argument.
module.exports = require('./fns.cjs');

'use strict';
// worker-farm calls method(arg, callback).
const fns = require('./fns.cjs');
for (const [name, fn] of Object.entries(fns)) {
  exports[name] = (arg, callback) => {
    Promise.resolve()
      .then(() => fn(arg))
      .then(
        (r) => callback(null, r),
        (error) => callback(error),
      );
  };
}

/** Every test helper, from one import: `./helpers/index.js`. */
export * from './events.js';
export * from './files.js';
export * from './pools.js';
export * from './processes.js';
export * from './cgroups.js';

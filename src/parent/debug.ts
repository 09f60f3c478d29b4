/** Debug output, silent unless `NODE_DEBUG=deadpool`. */
import { debuglog } from 'node:util';

export const debug = debuglog('deadpool');

/**
 * How a job's final error crosses Redis. BullMQ keeps only a message
 * (`failedReason`), so the executing machine writes it the way Node prints
 * its own errors, `TimeoutError [ERR_DEADPOOL_TIMEOUT]: task ... timed out`,
 * which stays readable in any BullMQ dashboard; the submitter parses it back
 * into the same class (deadpool's or a built-in) with `name` and `code`.
 */
import { POOL_ERRORS_BY_NAME } from '../shared/errors.js';
import { BUILTINS } from '../shared/protocol.js';

/** The code of the error a job fails with when its name is not a registered task. */
export const UNKNOWN_TASK = 'ERR_DEADPOOL_UNKNOWN_TASK';

type Build = (message: string) => Error;

/** The classes a failed job's error is made again as: the pool's own and the built-ins. */
const CLASSES: Record<string, Build> = {
  ...POOL_ERRORS_BY_NAME,
  ...Object.fromEntries(
    Object.entries(BUILTINS).map(([name, Ctor]): [string, Build] => [name, (m) => new Ctor(m)]),
  ),
};

/** `Name [CODE]: message`, or `Name: message` without a code. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return `Error: ${safeString(error)}`;
  const name = /^[A-Za-z_$][\w$]*$/.test(error.name) ? error.name : 'Error';
  const { code } = error as { code?: unknown };
  const tag = typeof code === 'string' && /^[\w.-]+$/.test(code) ? ` [${code}]` : '';
  return `${name}${tag}: ${error.message}`;
}

/** A cancel reason as text for the broadcast: a string as is, an error described. */
export function reasonText(reason: unknown): string {
  if (reason === undefined) return '';
  return reason instanceof Error ? describeError(reason) : safeString(reason);
}

const FORMAT = /^([A-Za-z_$][\w$]*)(?: \[([\w.-]+)\])?: ([\s\S]*)$/;

/**
 * The error a submitter sees for a job's `failedReason`. A reason not in the
 * format (a stalled job failed by BullMQ itself) becomes a plain Error.
 */
export function rebuildError(failedReason: string): Error {
  const match = FORMAT.exec(failedReason);
  if (!match) return new Error(failedReason);
  const [, name = 'Error', code, message = ''] = match;
  const build = CLASSES[name];
  const error = build ? build(message) : new Error(message);
  if (error.name !== name) {
    Object.defineProperty(error, 'name', { value: name, configurable: true, writable: true });
  }
  if (code !== undefined && (error as { code?: unknown }).code !== code) {
    Object.defineProperty(error, 'code', {
      value: code,
      configurable: true,
      writable: true,
      enumerable: true,
    });
  }
  return error;
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    return Object.prototype.toString.call(value);
  }
}

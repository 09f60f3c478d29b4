/**
 * Validation with one message template, for every option and argument:
 * "Expected `maxWorkers` to be an integer >= 1, got `0` (number)". A number
 * out of range is a RangeError; anything of the wrong type a TypeError.
 */
import { show } from '../shared/show.js';

/** Throw the one-template error: TypeError, or RangeError for a number out of range. */
export function invalid(
  name: string,
  expected: string,
  value: unknown,
  Ctor: ErrorConstructor = TypeError,
): never {
  throw new Ctor(`Expected \`${name}\` to be ${expected}, got ${show(value)}`);
}

/**
 * Refuse a key of `options` that is not in `allowed`, naming it and listing
 * the allowed ones: a typo such as `timeOut` must never be ignored. `where`
 * (`'shutdown()'`) names the call whose options they are.
 */
export function knownKeys(options: object, allowed: readonly string[], where?: string): void {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      const of = where === undefined ? '' : ` of ${where}`;
      throw new TypeError(`Unknown option \`${key}\`${of}; the options are: ${allowed.join(', ')}`);
    }
  }
}

/**
 * The options of `where` given as `name`: an object (not null, not an array)
 * whose keys are all in `allowed`, or undefined when they are `optional`.
 */
export function optionsOf(
  where: string,
  name: string,
  value: unknown,
  allowed: readonly string[],
  optional = true,
): void {
  if (value === undefined && optional) return;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(
      `Expected \`${name}\` of ${where} to be an options object, got ${show(value)}`,
    );
  }
  knownKeys(value, allowed, where);
}

/** RangeError for a number (out of range), TypeError for anything else. */
export function numberError(value: unknown): ErrorConstructor {
  return typeof value === 'number' ? RangeError : TypeError;
}

export function integer(name: string, value: unknown, min: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && value === Infinity && fallback === Infinity) return value;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    invalid(
      name,
      min === 0 ? 'an integer >= 0' : `an integer >= ${min}`,
      value,
      numberError(value),
    );
  }
  return value;
}

/** An integer from `min` to `max` (inclusive), or undefined. */
export function integerIn(
  name: string,
  value: unknown,
  min: number,
  max = Infinity,
): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const expected = max === Infinity ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
    invalid(name, expected, value, numberError(value));
  }
  return value;
}

/** An object (not null), or undefined. */
export function objectOrUndefined(name: string, value: unknown): void {
  if (value !== undefined && (typeof value !== 'object' || value === null)) {
    invalid(name, 'an object', value);
  }
}

/** Milliseconds: a finite number > 0, or undefined. */
export function duration(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    invalid(name, 'a finite number of milliseconds > 0', value, numberError(value));
  }
  return value;
}

export function callback<F>(name: string, value: F | undefined): F | undefined {
  if (value !== undefined && typeof value !== 'function') invalid(name, 'a function', value);
  return value;
}

export function bool(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') invalid(name, 'a boolean', value);
  return value;
}

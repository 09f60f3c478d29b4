import { describe, expect, test } from 'vitest';
import { NestedPoolError } from '../src/shared/errors.js';
import { fromWire, toWire } from '../src/shared/protocol.js';

const roundTrip = (value: unknown) => fromWire(structuredClone(toWire(value)));

describe('error wire format', () => {
  test('a nested-pool refusal, from any copy of the library, comes back as the pool error', () => {
    const original = new NestedPoolError('refused');
    const copy = roundTrip(original) as NestedPoolError;
    expect(copy).toBeInstanceOf(NestedPoolError);
    expect(copy.code).toBe('ERR_DEADPOOL_NESTED');
    expect(copy.stack).toBe(original.stack);
    // Another copy's class: only its code says what it is.
    const foreign = Object.assign(new Error('refused elsewhere'), { code: 'ERR_DEADPOOL_NESTED' });
    expect(roundTrip(foreign)).toBeInstanceOf(NestedPoolError);
  });

  test('a built-in class keeps its class, message and stack', () => {
    const original = new RangeError('out of range');
    const copy = roundTrip(original) as RangeError;
    expect(copy).toBeInstanceOf(RangeError);
    expect(copy.message).toBe('out of range');
    expect(copy.stack).toBe(original.stack);
  });

  test('a custom error keeps its name, code, own properties and cause chain', () => {
    class HttpError extends Error {
      status = 503;
      code = 'E_HTTP';
    }
    HttpError.prototype.name = 'HttpError';
    const original = new HttpError('upstream down', { cause: new TypeError('socket closed') });
    const copy = roundTrip(original) as Error & { status: number; code: string; cause: Error };
    expect(copy.name).toBe('HttpError');
    expect(copy.code).toBe('E_HTTP');
    expect(copy.status).toBe(503);
    expect(copy.cause).toBeInstanceOf(TypeError);
    expect(copy.cause.message).toBe('socket closed');
  });

  test('AggregateError keeps its errors', () => {
    const copy = roundTrip(new AggregateError([new Error('a'), 'b'], 'two')) as AggregateError;
    expect(copy).toBeInstanceOf(AggregateError);
    expect(copy.errors).toHaveLength(2);
    expect((copy.errors[0] as Error).message).toBe('a');
    expect(copy.errors[1]).toBe('b');
  });

  test('a thrown non-Error value arrives as it was thrown', () => {
    expect(roundTrip('plain string')).toBe('plain string');
    expect(roundTrip({ reason: 42 })).toEqual({ reason: 42 });
    expect(roundTrip(undefined)).toBeUndefined();
  });

  test('an unserializable own property is described instead of breaking the error', () => {
    const original = Object.assign(new Error('with a function'), { callback: () => 1 });
    const copy = roundTrip(original) as Error & { callback: unknown };
    expect(copy.message).toBe('with a function');
    expect(copy.callback).toBe('[unserializable function]');
  });

  test('a cause cycle is cut instead of recursing forever', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    const copy = roundTrip(a) as Error;
    expect(copy.message).toBe('a');
    expect((copy.cause as Error).message).toBe('b');
  });
});

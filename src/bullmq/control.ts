/**
 * The broadcasts between submitters and machines, over Redis streams read
 * with BullMQ's QueueEvents (so any connection BullMQ accepts works):
 *
 * - cancel: a submitter asks every machine to kill a job it runs (or will
 *   start), on a stream of its own (`<queue>.deadpool`), so machines do not
 *   read the queue's busy event stream.
 * - hello: a submitter's QueueEvents reads from "now"; a job that finished
 *   before its first read would never be seen. It publishes a hello on the
 *   queue's stream until it reads it back, and adds jobs only after that.
 */
import { randomUUID } from 'node:crypto';
import {
  QueueEvents,
  QueueEventsProducer,
  type ConnectionOptions,
  type QueueEventsListener,
} from 'bullmq';

export const CANCEL_EVENT = 'deadpool:cancel';
const HELLO_EVENT = 'deadpool:hello';
/** Cancels kept on the control stream (it is read live; old ones only wait to be trimmed). */
const CANCEL_STREAM_LENGTH = 1_000;
/** The hello must not trim the queue's own stream, whose length BullMQ sets. */
const NO_TRIM = Number.MAX_SAFE_INTEGER;

export interface StreamOptions {
  connection: ConnectionOptions;
  prefix?: string;
}

export interface CancelRequest {
  jobId: string;
  reason: string;
}

type CancelListener = QueueEventsListener & {
  [CANCEL_EVENT]: (args: Partial<CancelRequest>) => void;
};
type HelloListener = QueueEventsListener & { [HELLO_EVENT]: (args: { token?: string }) => void };

function controlName(queue: string): string {
  return `${queue}.deadpool`;
}

/**
 * A machine's ear: calls `onCancel` for each cancel published in the last
 * `sinceMs` and from then on. Not from "now" (QueueEvents' default): its
 * first read of the stream comes a moment after it connects, and a cancel
 * published in between (the machine already said it was ready) was never
 * heard. Stream ids are Redis's clock in ms; a machine whose clock runs
 * ahead of Redis's by more than `sinceMs` would miss cancels.
 */
export function listenForCancels(
  queue: string,
  options: StreamOptions,
  sinceMs: number,
  onCancel: (request: CancelRequest) => void,
): QueueEvents {
  const lastEventId = `${Math.max(0, Date.now() - sinceMs)}-0`;
  const events = new QueueEvents(controlName(queue), { ...options, lastEventId });
  events.on<CancelListener, typeof CANCEL_EVENT>(CANCEL_EVENT, ({ jobId, reason }) => {
    if (typeof jobId === 'string') onCancel({ jobId, reason: reason ?? '' });
  });
  return events;
}

/** A submitter's mouth on the control stream, made on first use. */
export class CancelPublisher {
  readonly #queue: string;
  readonly #options: StreamOptions;
  #producer: QueueEventsProducer | undefined;

  constructor(queue: string, options: StreamOptions) {
    this.#queue = queue;
    this.#options = options;
  }

  async publish(request: CancelRequest): Promise<void> {
    this.#producer ??= new QueueEventsProducer(controlName(this.#queue), this.#options);
    await this.#producer.publishEvent(
      { eventName: CANCEL_EVENT, jobId: request.jobId, reason: request.reason },
      CANCEL_STREAM_LENGTH,
    );
  }

  async close(): Promise<void> {
    await this.#producer?.close();
  }
}

/** The producer of hellos on the queue's own event stream. */
export function helloProducer(queue: string, options: StreamOptions): QueueEventsProducer {
  return new QueueEventsProducer(queue, options);
}

/**
 * Resolves once `events` reads the queue's stream live: publishes a hello
 * with `producer` (again, backing off to once a second, through Redis
 * errors, which go to `onError`) until it is read back. Rejects once
 * `stopped()` turns true first. Closes the producer either way.
 */
export async function handshake(
  events: QueueEvents,
  producer: QueueEventsProducer,
  stopped: () => boolean,
  onError: (error: unknown) => void,
): Promise<void> {
  const token = randomUUID();
  let heard = false;
  let wake: () => void = () => {};
  const listener = ({ token: seen }: { token?: string }): void => {
    if (seen !== token) return;
    heard = true;
    wake();
  };
  events.on<HelloListener, typeof HELLO_EVENT>(HELLO_EVENT, listener);
  try {
    for (let wait = 20; !heard; wait = Math.min(wait * 2, 1_000)) {
      if (stopped()) throw new Error('the queue was closed before it could listen to its events');
      try {
        await producer.publishEvent({ eventName: HELLO_EVENT, token }, NO_TRIM);
      } catch (error) {
        if (!stopped()) onError(error);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
        if (heard) wake();
      });
    }
  } finally {
    events.off<HelloListener, typeof HELLO_EVENT>(HELLO_EVENT, listener);
    await producer.close().catch(() => {});
  }
}

/**
 * Holds the parent's event loop open while the pool has work. Workers' handles
 * are all unref'd, so an idle pool never keeps the process alive; one timer,
 * ref'd while tasks wait or run or someone awaits the pool, does. The timer is
 * made once and only ref'd and unref'd (cheap), since a sequence of single
 * tasks turns it on and off for each.
 */
export class KeepAlive {
  #handle: NodeJS.Timeout | undefined;
  #on = false;

  set(on: boolean): void {
    if (on === this.#on) return;
    this.#on = on;
    if (on) {
      this.#handle ??= setInterval(() => {}, 2 ** 31 - 1);
      this.#handle.ref();
    } else {
      this.#handle?.unref();
    }
  }

  /** Drop the timer (the pool is closed and quiet). */
  stop(): void {
    if (this.#handle !== undefined) clearInterval(this.#handle);
    this.#handle = undefined;
    this.#on = false;
  }
}

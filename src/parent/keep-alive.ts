/**
 * Holds the parent's event loop open while the pool has work. Workers' handles
 * are all unref'd, so an idle pool never keeps the process alive; one ref'd
 * timer does while tasks wait or run, or while someone awaits the pool.
 */
export class KeepAlive {
  #handle: NodeJS.Timeout | undefined;

  set(on: boolean): void {
    if (on && this.#handle === undefined) {
      this.#handle = setInterval(() => {}, 2 ** 31 - 1);
    } else if (!on && this.#handle !== undefined) {
      clearInterval(this.#handle);
      this.#handle = undefined;
    }
  }
}

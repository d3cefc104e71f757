/**
 * Group commit for fsync: one flush to disk serves every caller that asked before it started.
 *
 * An fsync makes durable what was written before it began, so a caller arriving while one runs
 * cannot rely on it and waits for the next; that next one starts when the running one ends and
 * serves everyone who arrived meanwhile. N concurrent callers therefore cost about two flushes,
 * not N, and no caller is answered before a flush that began after its own write.
 */
export class GroupedSync {
  #running: Promise<void> | undefined;
  #next: Promise<void> | undefined;
  /** flushes started, for tests and metrics */
  flushes = 0;

  /** `flush` does the actual fsync (or fdatasync) */
  constructor(private readonly flush: () => Promise<void>) {}

  /** resolves once a flush that started after this call has completed (rejects if it failed) */
  sync(): Promise<void> {
    if (this.#next) return this.#next;
    if (!this.#running) return this.#start();
    const after = this.#running.then(
      () => undefined,
      () => undefined,
    );
    this.#next = after.then(() => {
      this.#next = undefined;
      return this.#start();
    });
    return this.#next;
  }

  #start(): Promise<void> {
    this.flushes++;
    const running = this.flush().finally(() => {
      if (this.#running === running) this.#running = undefined;
    });
    this.#running = running;
    return running;
  }
}

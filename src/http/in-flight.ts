/**
 * Counts request handlers still running, so shutdown can wait for them: after the deadline cuts
 * the connections, an upload's handler still has to abort its put and clean up before the stores
 * close.
 */
export class InFlight {
  #count = 0;
  #started = 0;
  #idle: (() => void)[] = [];

  get size(): number {
    return this.#count;
  }

  /** handlers tracked so far, finished or not (whether any ran in a period: server/idle-memory.ts) */
  get started(): number {
    return this.#started;
  }

  track<T>(work: Promise<T>): Promise<T> {
    this.#count++;
    this.#started++;
    return work.finally(() => {
      if (--this.#count > 0) return;
      for (const resolve of this.#idle.splice(0)) resolve();
    });
  }

  /** resolves once no tracked handler is running */
  idle(): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }
}

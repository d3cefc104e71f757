/**
 * Transfer concurrency limits (`maxTransfers` per process, `maxTransfersPerUser`): a transfer
 * holds one slot from the moment its request arrives until its response closes (finished or
 * aborted). A request over a limit waits for a slot in arrival order, up to `queueTimeoutMs`,
 * without its body being read (an upload's bytes stay in the client and the socket buffers);
 * when none frees in time it is answered `429` + `Retry-After`, which the git-lfs client retries.
 *
 * Waiting briefly before refusing matters for the real client: every 429 costs the object one of
 * its 8 retries, so a short queue lets a fleet of clients share two slots without failing objects.
 */

export type SlotRefusal = 'transfers' | 'user_transfers';

/** Gives the slot back; calling it more than once is harmless. */
export type ReleaseSlot = () => void;

export interface TransferSlotsOptions {
  /** slots in this process; 0 = no limit */
  max: number;
  /** slots per user key; 0 = no limit */
  maxPerUser: number;
  /** how long a request over a limit waits for a slot (ms); 0 = refuse at once */
  queueTimeoutMs: number;
}

interface Waiter {
  user: string;
  settle: (result: ReleaseSlot | SlotRefusal) => void;
  timer: NodeJS.Timeout | undefined;
}

export class TransferSlots {
  #inUse = 0;
  readonly #perUser = new Map<string, number>();
  #queue: Waiter[] = [];
  #closed = false;

  constructor(private readonly options: TransferSlotsOptions) {}

  get inUse(): number {
    return this.#inUse;
  }

  get waiting(): number {
    return this.#queue.length;
  }

  /**
   * A slot at once when one is free and nobody waits, else undefined (then `acquire`): a request
   * that gets its slot at once needs no AbortSignal to cancel a wait.
   */
  tryAcquire(user: string): ReleaseSlot | undefined {
    if (this.#queue.length > 0 || this.#refusal(user)) return undefined;
    return this.#take(user);
  }

  /**
   * A slot for a transfer by `user`, or why none was granted. `cancel` aborts the wait (the client
   * went away): the promise then resolves with a refusal and no slot is held.
   */
  acquire(user: string, cancel?: AbortSignal): Promise<ReleaseSlot | SlotRefusal> {
    const refusal = this.#refusal(user);
    if (!refusal && this.#queue.length === 0) return Promise.resolve(this.#take(user));
    if (this.options.queueTimeoutMs === 0 || this.#closed || cancel?.aborted) {
      return Promise.resolve(refusal ?? 'transfers');
    }
    return new Promise((resolve) => {
      const waiter: Waiter = {
        user,
        settle: (result) => {
          cancel?.removeEventListener('abort', onAbort);
          resolve(result);
        },
        timer: undefined,
      };
      const leave = () => {
        clearTimeout(waiter.timer);
        cancel?.removeEventListener('abort', onAbort);
        const at = this.#queue.indexOf(waiter);
        if (at >= 0) this.#queue.splice(at, 1);
        // the first of the queue may have been blocked only by this one's place ahead of it
        this.#grantWaiting();
        resolve(this.#refusal(user) ?? 'transfers');
      };
      const onAbort = () => leave();
      waiter.timer = setTimeout(leave, this.options.queueTimeoutMs);
      waiter.timer.unref();
      cancel?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(waiter);
    });
  }

  /** refuse every waiting request now and any later one that would wait (shutdown) */
  close(): void {
    this.#closed = true;
    for (const waiter of this.#queue.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.settle('transfers');
    }
  }

  #refusal(user: string): SlotRefusal | undefined {
    const { max, maxPerUser } = this.options;
    if (max > 0 && this.#inUse >= max) return 'transfers';
    if (maxPerUser > 0 && (this.#perUser.get(user) ?? 0) >= maxPerUser) return 'user_transfers';
    return undefined;
  }

  #take(user: string): ReleaseSlot {
    this.#inUse++;
    this.#perUser.set(user, (this.#perUser.get(user) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inUse--;
      const left = (this.#perUser.get(user) ?? 1) - 1;
      if (left > 0) this.#perUser.set(user, left);
      else this.#perUser.delete(user);
      this.#grantWaiting();
    };
  }

  /** hand freed slots to waiting requests, oldest first, skipping users at their own limit */
  #grantWaiting(): void {
    for (let i = 0; i < this.#queue.length;) {
      const waiter = this.#queue[i] as Waiter;
      const refusal = this.#refusal(waiter.user);
      if (refusal === 'transfers') return;
      if (refusal) {
        i++;
        continue;
      }
      this.#queue.splice(i, 1);
      clearTimeout(waiter.timer);
      waiter.settle(this.#take(waiter.user));
    }
  }
}

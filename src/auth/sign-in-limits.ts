/**
 * Limits on failed sign-ins (issue 11 item 3): at most `signInFailuresPerUser` failures per user
 * name and `signInFailuresPerAddress` per client address (IPv6: per /64) within
 * `signInFailureWindow` seconds. Past either, a password sign-in is answered 429 + `Retry-After`
 * before anything is looked up or verified: the answer is the same whether the user exists or not,
 * and a guessing loop costs the server no password hashing.
 *
 * Only failures are counted, when their check has ended. So that a burst of concurrent guesses
 * cannot run many checks before the first failure is counted, the checks in flight for one name
 * (or address) are capped at its limit too: a check past the cap waits for one to end and then
 * looks at the failures again. A real user with many sign-ins at once (a CI fleet on one
 * password) just waits a few hashes' time; a guessing burst gets at most the limit of checks and
 * then the window's wait. Only a queue longer than MAX_WAITING_FACTOR × the limit, or a wait past
 * MAX_WAIT_MS, is refused at once with `Retry-After: 1`. A failed token or a name no user can have counts
 * against the address only. A valid personal access token is never limited (it costs one indexed
 * lookup to check and cannot be guessed), so tokens keep working for a user whose name is being
 * attacked.
 */
import type { LfsError } from '../errors.js';
import { addressLimitKey } from '../limits/client-address.js';
import { createRateLimit, rateLimitedError, type RateLimit } from '../limits/rate-limit.js';

export interface SignInLimitSettings {
  /** failed sign-ins per user name within the window; 0: no limit */
  signInFailuresPerUser: number;
  /** failed sign-ins per client address within the window; 0: no limit */
  signInFailuresPerAddress: number;
  /** seconds */
  signInFailureWindow: number;
}

export const DEFAULT_SIGN_IN_LIMITS: SignInLimitSettings = {
  signInFailuresPerUser: 10,
  signInFailuresPerAddress: 100,
  signInFailureWindow: 300,
};

export const SIGN_IN_LIMITED_MESSAGE = 'Too many failed sign-ins: try again later';

/** A password check in progress: tell it how the check ended (exactly once). */
export interface SignInAttempt {
  succeeded(): void;
  failed(): Promise<void>;
}

interface Counted {
  limit: RateLimit;
  key: string;
}

/** seconds a sign-in refused for too many checks in flight is told to wait */
const IN_FLIGHT_RETRY_AFTER_S = 1;
/** checks that may wait for a slot, per key, as a multiple of its limit */
const MAX_WAITING_FACTOR = 8;
/** longest a check waits for a slot before it is refused */
const MAX_WAIT_MS = 10_000;

export class SignInLimits {
  private readonly perUser: RateLimit | undefined;
  private readonly perAddress: RateLimit | undefined;
  /** password checks running now, per limit and key */
  private readonly inFlight = new Map<string, number>();
  /** checks waiting for a slot, per limit and key: each is woken when a check of its key ends */
  private readonly waiting = new Map<string, Set<() => void>>();

  constructor(settings: SignInLimitSettings = DEFAULT_SIGN_IN_LIMITS) {
    const window = settings.signInFailureWindow;
    if (settings.signInFailuresPerUser > 0) {
      this.perUser = createRateLimit({
        points: settings.signInFailuresPerUser,
        durationSeconds: window,
        keyPrefix: 'sign-in-user',
      });
    }
    if (settings.signInFailuresPerAddress > 0) {
      this.perAddress = createRateLimit({
        points: settings.signInFailuresPerAddress,
        durationSeconds: window,
        keyPrefix: 'sign-in-address',
      });
    }
  }

  /**
   * Before checking a password of `userName` from `address`: throws 429 when either is over its
   * limit, or already has as many checks in flight; otherwise the check may run.
   */
  async begin(userName: string, address: string | undefined): Promise<SignInAttempt> {
    const counted = this.keysFor(userName, address);
    const deadline = Date.now() + MAX_WAIT_MS;
    for (;;) {
      await this.refuseIfOver(counted);
      // no await from the check to the increment: the cap holds however many requests arrive at once
      const full = counted.find(
        ({ limit, key }) => (this.inFlight.get(inFlightKey(limit, key)) ?? 0) >= limit.points,
      );
      if (!full) break;
      await this.waitForSlot(full, deadline);
    }
    for (const { limit, key } of counted) {
      const k = inFlightKey(limit, key);
      this.inFlight.set(k, (this.inFlight.get(k) ?? 0) + 1);
    }
    let ended = false;
    const end = () => {
      if (ended) return false;
      ended = true;
      for (const { limit, key } of counted) {
        const k = inFlightKey(limit, key);
        const left = (this.inFlight.get(k) ?? 1) - 1;
        if (left > 0) this.inFlight.set(k, left);
        else this.inFlight.delete(k);
      }
      return true;
    };
    // waiters wake after the failure is counted, so that they see it before they check
    const wake = () => {
      for (const { limit, key } of counted) {
        for (const resume of this.waiting.get(inFlightKey(limit, key)) ?? []) resume();
      }
    };
    return {
      succeeded: () => {
        if (end()) wake();
      },
      failed: async () => {
        if (!end()) return;
        try {
          for (const { limit, key } of counted) await limit.penalty(key);
        } finally {
          wake();
        }
      },
    };
  }

  /** resolves when a check of `full`'s key ends; throws 429 when the queue or the wait is too long */
  private async waitForSlot({ limit, key }: Counted, deadline: number): Promise<void> {
    const k = inFlightKey(limit, key);
    const waiters = this.waiting.get(k) ?? new Set<() => void>();
    const left = deadline - Date.now();
    if (waiters.size >= limit.points * MAX_WAITING_FACTOR || left <= 0)
      throw limited(IN_FLIGHT_RETRY_AFTER_S);
    this.waiting.set(k, waiters);
    let timer: NodeJS.Timeout | undefined;
    let resume!: () => void;
    const woken = await new Promise<boolean>((resolve) => {
      resume = () => resolve(true);
      waiters.add(resume);
      timer = setTimeout(() => resolve(false), left);
    });
    clearTimeout(timer);
    waiters.delete(resume);
    if (waiters.size === 0 && this.waiting.get(k) === waiters) this.waiting.delete(k);
    if (!woken) throw limited(IN_FLIGHT_RETRY_AFTER_S);
  }

  /**
   * A failure that needed no password check (an unknown token, a name no user can have): counted
   * against the address; throws 429 when the address is already over its limit.
   */
  async failedWithoutCheck(address: string | undefined): Promise<void> {
    const counted = this.keysFor(undefined, address);
    await this.refuseIfOver(counted);
    for (const { limit, key } of counted) await limit.penalty(key);
  }

  private keysFor(userName: string | undefined, address: string | undefined): Counted[] {
    const counted: Counted[] = [];
    // names are compared without case: a database collation may match `Alice` to `alice`
    if (this.perUser && userName !== undefined)
      counted.push({ limit: this.perUser, key: userName.toLowerCase() });
    if (this.perAddress && address) counted.push({ limit: this.perAddress, key: addressLimitKey(address) });
    return counted;
  }

  private async refuseIfOver(counted: Counted[]): Promise<void> {
    let retryAfter = 0;
    for (const { limit, key } of counted) {
      const decision = await limit.get(key);
      if (!decision.allowed) retryAfter = Math.max(retryAfter, decision.retryAfterSeconds);
    }
    if (retryAfter > 0) throw limited(retryAfter);
  }
}

function inFlightKey(limit: RateLimit, key: string): string {
  return `${limit.keyPrefix}\n${key}`;
}

function limited(retryAfterSeconds: number): LfsError {
  return rateLimitedError(retryAfterSeconds, SIGN_IN_LIMITED_MESSAGE);
}

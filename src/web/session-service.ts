/**
 * Web console sessions (issue 16): server-side rows in the metadata database (migration
 * 0005_web_sessions), so a replica can be killed and a session still ends for every replica at
 * once. The browser holds a random 256-bit secret in an HttpOnly cookie; the database holds only
 * its SHA-256. A session is a credential of kind `session` (auth/credentials.ts): it stands for
 * its user until it is signed out or expires, or the user's password changes, or the user is
 * disabled (authGeneration moves on) or removed (the row goes with the user).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { UserCaller } from '../auth/caller.js';
import type { MetadataStore, User, WebSession } from '../metadata/metadata-store.js';

const SECRET_SHAPE = /^[A-Za-z0-9_-]{43}$/;
/** expired rows are swept at most this often, by a sign-in */
const SWEEP_INTERVAL_MS = 10 * 60 * 1000;

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export class SessionService {
  private lastSweep = 0;

  constructor(
    private readonly metadata: MetadataStore,
    private readonly ttlSeconds: number,
  ) {}

  /** A new session for `user` (who has just proved their password); the secret goes in the cookie. */
  async begin(user: User): Promise<{ secret: string; session: WebSession }> {
    const now = Date.now();
    if (now - this.lastSweep > SWEEP_INTERVAL_MS) {
      this.lastSweep = now;
      await this.metadata.deleteExpiredWebSessions(new Date(now));
    }
    const secret = randomBytes(32).toString('base64url');
    const session = await this.metadata.createWebSession({
      userId: user.id,
      secretHash: hashSecret(secret),
      authGeneration: user.authGeneration,
      expiresAt: new Date(now + this.ttlSeconds * 1000),
    });
    return { secret, session };
  }

  /** The caller a session cookie stands for; undefined when it is unknown, expired or ended. */
  async resolve(secret: string | undefined): Promise<UserCaller | undefined> {
    if (!secret || !SECRET_SHAPE.test(secret)) return undefined;
    const found = await this.metadata.findWebSession({ secretHash: hashSecret(secret) });
    if (!found) return undefined;
    const { session, user } = found;
    if (session.expiresAt.getTime() <= Date.now()) return undefined;
    if (user.disabled || user.authGeneration !== session.authGeneration) return undefined;
    return { kind: 'user', user, credential: { kind: 'session', id: String(session.id) } };
  }

  /** Signs out: the session is gone for every replica at once. */
  async end(sessionId: number): Promise<void> {
    await this.metadata.deleteWebSession(sessionId);
  }
}

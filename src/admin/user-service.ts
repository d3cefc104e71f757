/**
 * Users: the one place their rules live for every way in (CLI, admin API, web console). Names
 * follow rules.ts; passwords are checked there and stored hashed. Changing a password or disabling
 * a user bumps their authGeneration, which ends everything granted under the old state (transfer
 * tokens, console sessions: auth/credentials.ts).
 */
import { hashPassword } from '../auth/password-hash.js';
import { lfsError } from '../errors.js';
import { AlreadyExistsError, type MetadataStore, type User } from '../metadata/metadata-store.js';
import { checkNewPassword, checkUserName } from '../rules.js';
import { actsFor, requireSiteAdmin, type Actor } from './actor.js';

export class UserService {
  constructor(private readonly metadata: MetadataStore) {}

  /** A new user; without a password they sign in with tokens (or SSH keys) only. */
  async add(actor: Actor, input: { name: string; admin?: boolean; password?: string }): Promise<User> {
    requireSiteAdmin(actor);
    const name = checkUserName(input.name);
    const passwordHash =
      input.password === undefined ? null : await hashPassword(checkNewPassword(input.password));
    try {
      return await this.metadata.createUser({ name, isAdmin: input.admin ?? false, passwordHash });
    } catch (err) {
      if (err instanceof AlreadyExistsError) throw lfsError('already_exists', `user ${name} already exists`);
      throw err;
    }
  }

  async list(actor: Actor): Promise<User[]> {
    requireSiteAdmin(actor);
    return this.metadata.listUsers();
  }

  /** The user named `name`, if the actor may see them (themself, or an admin); 404 otherwise. */
  async get(actor: Actor, name: string): Promise<User> {
    const user = await this.metadata.findUserByName(name);
    if (!user || !actsFor(actor, user.id)) throw lfsError('user_not_found', `no user named ${name}`);
    return user;
  }

  async setPassword(actor: Actor, name: string, password: string | null): Promise<void> {
    const user = await this.get(actor, name);
    const hash = password === null ? null : await hashPassword(checkNewPassword(password));
    await this.metadata.setPasswordHash(user.id, hash);
  }

  async setAdmin(actor: Actor, name: string, isAdmin: boolean): Promise<void> {
    requireSiteAdmin(actor);
    const user = await this.get(actor, name);
    await this.metadata.setUserAdmin(user.id, isAdmin);
  }

  async setDisabled(actor: Actor, name: string, disabled: boolean): Promise<void> {
    requireSiteAdmin(actor);
    const user = await this.get(actor, name);
    if (disabled) refuseSelf(actor, user, 'disable');
    await this.metadata.setUserDisabled(user.id, disabled);
  }

  /** Removes the user with their tokens, grants and locks; their repositories stay. */
  async remove(actor: Actor, name: string): Promise<void> {
    requireSiteAdmin(actor);
    const user = await this.get(actor, name);
    refuseSelf(actor, user, 'remove');
    await this.metadata.deleteUser(user.id);
  }
}

/** An admin signed in through the API or console cannot lock themself out (the operator can). */
function refuseSelf(actor: Actor, user: User, what: string): void {
  if (actor.kind === 'user' && actor.user.id === user.id) {
    throw lfsError('forbidden', `You cannot ${what} yourself`);
  }
}

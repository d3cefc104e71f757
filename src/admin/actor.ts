/**
 * Who asks the admin services for something: the operator at the server's command line (`lfsd`
 * commands, who may do everything, like root), or a signed-in user through the admin API or the
 * web console, who may do what auth/access.ts allows them.
 */
import { lfsError } from '../errors.js';
import type { UserCaller } from '../auth/caller.js';

export type Actor = { kind: 'operator' } | UserCaller;

export const OPERATOR: Actor = Object.freeze({ kind: 'operator' });

/** the operator, or a site admin */
export function isSiteAdmin(actor: Actor): boolean {
  return actor.kind === 'operator' || actor.user.isAdmin;
}

/** 403 unless the actor is the operator or a site admin */
export function requireSiteAdmin(actor: Actor): void {
  if (!isSiteAdmin(actor)) throw lfsError('forbidden', 'Only an administrator may do that');
}

/** the operator, a site admin, or the user `userId` themself */
export function actsFor(actor: Actor, userId: number): boolean {
  return isSiteAdmin(actor) || (actor.kind === 'user' && actor.user.id === userId);
}

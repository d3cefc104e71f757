/**
 * Password hashing: argon2id with the OWASP-recommended parameters (m = 19 MiB, t = 2, p = 1),
 * stored as a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) that carries its own
 * parameters, so they can be raised later without breaking stored hashes.
 *
 * Hashes from before argon2 (`scrypt$<N>$<r>$<p>$<salt b64>$<hash b64>`) still verify; the
 * Authenticator replaces them (and argon2 hashes with other parameters) with a current hash on the
 * next successful sign-in (needsRehash).
 *
 * `verifyDummy` costs what checking a wrong password of a real user costs, for sign-ins that
 * cannot succeed (unknown, disabled or password-less user): every failure then takes the same
 * time, so the answer's timing does not tell whether a user exists.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type * as Argon2Module from '@node-rs/argon2';

/** OWASP Password Storage Cheat Sheet, argon2id, first option */
export const ARGON2_PARAMS = { memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;
/** @node-rs/argon2's Algorithm.Argon2id (a const enum, which this build cannot import) */
const ARGON2ID = 2;
const CURRENT_PREFIX = `$argon2id$v=19$m=${ARGON2_PARAMS.memoryCost},t=${ARGON2_PARAMS.timeCost},p=${ARGON2_PARAMS.parallelism}$`;

type Argon2 = typeof Argon2Module;
let argon2: Promise<Argon2> | undefined;
/** the native module is loaded on the first password check, not by servers that never see one */
function loadArgon2(): Promise<Argon2> {
  argon2 ??= import('@node-rs/argon2');
  return argon2;
}

export async function hashPassword(password: string): Promise<string> {
  const { hash } = await loadArgon2();
  return hash(password, { ...ARGON2_PARAMS, algorithm: ARGON2ID as never });
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  if (stored.startsWith('$argon2')) {
    const { verify } = await loadArgon2();
    try {
      return await verify(stored, password);
    } catch {
      return false; // a malformed stored hash matches nothing
    }
  }
  if (stored.startsWith('scrypt$')) return verifyScrypt(password, stored);
  return false;
}

/** whether a hash that just verified should be replaced by one with the current parameters */
export function needsRehash(stored: string): boolean {
  return !stored.startsWith(CURRENT_PREFIX);
}

let dummy: Promise<string> | undefined;
/**
 * Verifies `password` against a hash of a random secret with the current parameters, and answers
 * false: the cost of a wrong password, for sign-ins that cannot succeed.
 */
export async function verifyDummy(password: string): Promise<false> {
  dummy ??= hashPassword(randomBytes(32).toString('base64url'));
  await verifyPassword(password, await dummy);
  return false;
}

// ---- legacy scrypt hashes (verify only) ----

const SCRYPT_KEY_LENGTH = 32;

function scryptAsync(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, SCRYPT_KEY_LENGTH, { ...options, maxmem: 64 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

async function verifyScrypt(password: string, stored: string): Promise<boolean> {
  const [, n, r, p, salt, hash] = stored.split('$');
  if (!salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  let key: Buffer;
  try {
    key = await scryptAsync(password, Buffer.from(salt, 'base64'), {
      N: Number(n),
      r: Number(r),
      p: Number(p),
    });
  } catch {
    return false;
  }
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A hash in the pre-argon2 format (scrypt N=2^14, r=8, p=1), for tests of the upgrade path. */
export async function legacyScryptHash(password: string): Promise<string> {
  const salt = randomBytes(16);
  const params = { N: 16384, r: 8, p: 1 };
  const key = await scryptAsync(password, salt, params);
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64'), key.toString('base64')].join('$');
}

/**
 * The ONLY place where object stores are composed (DESIGN.md "ObjectStore"). Order, outermost
 * first:
 *   VerifyingStore  - SHA-256 and size checked while bytes stream; outermost because it must see
 *                     exactly the bytes the client sent, and it makes a bad body fail before the
 *                     backend sees its end, so the backend never publishes it
 *   backend         - DiskStore (embedded default) or S3Store (scale-out)
 */
import type { Settings } from '../config/settings.js';
import { DiskStore } from './disk-store.js';
import type { ObjectStore } from './object-store.js';
import { VerifyingStore } from './verifying-store.js';

export async function buildObjectStore(settings: Settings): Promise<ObjectStore> {
  return new VerifyingStore(await buildBackend(settings));
}

async function buildBackend(settings: Settings): Promise<ObjectStore> {
  switch (settings.storage) {
    case 'disk':
      return new DiskStore({ root: settings.dataDir });
    case 's3':
      throw new Error('storage s3 is not available in this build yet');
  }
}

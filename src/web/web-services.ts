/**
 * What the admin API and the console call: the admin service layer the CLI uses (src/admin), the
 * locks' rules (lfs/lock-service.ts), and the metadata for read-only counts. Built once per app.
 */
import { createAdminServices, type AdminServices } from '../admin/admin-services.js';
import { LockService } from '../lfs/lock-service.js';
import type { MetadataStore } from '../metadata/metadata-store.js';

export interface WebServices {
  admin: AdminServices;
  locks: LockService;
  metadata: MetadataStore;
}

export function createWebServices(metadata: MetadataStore): WebServices {
  return { admin: createAdminServices(metadata), locks: new LockService(metadata), metadata };
}

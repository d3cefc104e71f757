/**
 * Download offload (setting `downloadOffload`): instead of streaming a disk object itself, lfsd
 * authorises the download and answers with a header that tells the reverse proxy in front of it
 * which file to send, so the bytes cost lfsd no CPU (the deployment shape GitLab uses with
 * nginx). The proxy handles Range itself; lfsd still answers every error (auth, not linked,
 * unsatisfiable range, missing content) in LFS JSON.
 */
import type { Settings } from '../config/settings.js';
import type { ObjectStore } from '../storage/object-store.js';

/** the response header that hands the download to the proxy, for one oid */
export type DownloadOffload = (oid: string) => { name: string; value: string };

/** `undefined` when lfsd sends downloads itself (the default). */
export function downloadOffloadOf(
  settings: Pick<Settings, 'downloadOffload' | 'downloadOffloadPrefix'>,
  store: ObjectStore,
): DownloadOffload | undefined {
  // buildObjectStore refused an offload setting for a store without local files
  const localFile = (oid: string) => store.localFile!(oid);
  switch (settings.downloadOffload) {
    case 'none':
      return undefined;
    case 'x-accel-redirect':
      // a URI: nginx maps the internal location's prefix to <dataDir>/objects/ (alias)
      return (oid) => ({
        name: 'X-Accel-Redirect',
        value: settings.downloadOffloadPrefix + localFile(oid).relative,
      });
    case 'x-sendfile':
      return (oid) => ({ name: 'X-Sendfile', value: localFile(oid).path });
  }
}

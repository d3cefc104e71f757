/** The Git LFS client side of the benchmark: batch, then the actions it hands out. */
import type { Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { LFS_JSON } from '../../src/http/lfs-json.js';
import { jsonRequest, putStream, rawGet, type RawGetResult } from './http.js';

export interface Action {
  href: string;
  header?: Record<string, string>;
}

interface BatchObject {
  oid: string;
  size: number;
  actions?: { upload?: Action; download?: Action; verify?: Action };
  error?: { code: number; message: string };
}

export class LfsClient {
  readonly authorization: string;

  /** `lfsUrl`: `<server>/<repo>.git/info/lfs` */
  constructor(
    readonly lfsUrl: string,
    user: string,
    password: string,
  ) {
    this.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  }

  batchBody(operation: 'upload' | 'download', objects: readonly { oid: string; size: number }[]): string {
    return JSON.stringify({
      operation,
      transfers: ['basic'],
      objects: objects.map(({ oid, size }) => ({ oid, size })),
      hash_algo: 'sha256',
    });
  }

  batchHeaders(): Record<string, string> {
    return { Accept: LFS_JSON, 'Content-Type': LFS_JSON, Authorization: this.authorization };
  }

  async batch(
    operation: 'upload' | 'download',
    objects: readonly { oid: string; size: number }[],
  ): Promise<BatchObject[]> {
    const response = await jsonRequest(`${this.lfsUrl}/objects/batch`, {
      method: 'POST',
      headers: this.batchHeaders(),
      body: this.batchBody(operation, objects),
    });
    if (response.status !== 200) throw new Error(`batch ${operation}: ${response.status} ${response.text}`);
    const answer = JSON.parse(response.text) as { objects: BatchObject[] };
    for (const object of answer.objects) {
      if (object.error)
        throw new Error(`batch ${operation} ${object.oid}: ${object.error.code} ${object.error.message}`);
    }
    return answer.objects;
  }

  /**
   * Batch, then PUT (proxy mode offers no verify). `body()` is called only when the server asks
   * for the bytes; returns false when the object was already present.
   */
  async upload(object: { oid: string; size: number }, body: () => Readable): Promise<boolean> {
    const [planned] = await this.batch('upload', [object]);
    const upload = planned?.actions?.upload;
    if (!upload) return false;
    const put = await putStream(upload.href, body(), object.size, upload.header);
    if (put.status !== 200) throw new Error(`PUT ${object.oid}: ${put.status} ${put.text}`);
    if (planned.actions?.verify) throw new Error('the bench speaks proxy mode: no verify expected');
    return true;
  }

  async downloadAction(object: { oid: string; size: number }): Promise<Action> {
    const [planned] = await this.batch('download', [object]);
    const download = planned?.actions?.download;
    if (!download) throw new Error(`batch download ${object.oid}: no download action`);
    return download;
  }

  /** Batch, then GET the object (or `range`) counting the bytes; `expect` is the body length. */
  async download(
    object: { oid: string; size: number },
    options: { range?: string; expect: number; hash?: Hash },
  ): Promise<RawGetResult> {
    const action = await this.downloadAction(object);
    return checkedGet(action.href, action.header ?? {}, options);
  }
}

export async function checkedGet(
  url: string,
  headers: Record<string, string>,
  options: { range?: string; expect: number; hash?: Hash },
): Promise<RawGetResult> {
  const result = await rawGet(url, {
    headers: options.range ? { ...headers, Range: options.range } : headers,
    hash: options.hash,
  });
  const want = options.range ? 206 : 200;
  if (result.status !== want || result.bytes !== options.expect) {
    throw new Error(
      `GET ${url}: ${result.status} with ${result.bytes} bytes, expected ${want} with ${options.expect}`,
    );
  }
  return result;
}

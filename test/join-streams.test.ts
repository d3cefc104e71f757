/**
 * joinStreams (src/join-streams.ts): data flows with backpressure, and a failure or an early close
 * of either side destroys the other, as stream.pipeline does for two streams.
 */
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { joinStreams } from '../src/join-streams.js';

/** resolves once `stream` has closed (once() would reject on the error event before it) */
function closed(stream: Readable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.closed) resolve();
    else stream.once('close', () => resolve());
  });
}

void describe('joinStreams', { timeout: 10_000 }, () => {
  void it('passes every chunk through and ends the other side', async () => {
    const chunks = Array.from({ length: 100 }, (_, i) => Buffer.alloc(10_000, i));
    const through = new PassThrough({ highWaterMark: 1024 });
    joinStreams(Readable.from(chunks), through);
    const received: Buffer[] = [];
    for await (const chunk of through) received.push(chunk as Buffer);
    assert.ok(Buffer.concat(received).equals(Buffer.concat(chunks)));
  });

  void it('fails the other side with the source error', async () => {
    const source = new PassThrough();
    const through = new PassThrough();
    source.on('error', () => undefined);
    through.on('error', () => undefined);
    joinStreams(source, through);
    source.destroy(new Error('client gone'));
    await closed(through);
    assert.equal(through.destroyed, true);
    assert.match(String(through.errored), /client gone/);
  });

  void it('fails the other side when the source closes before its end', async () => {
    const source = new PassThrough();
    const through = new PassThrough();
    through.on('error', () => undefined);
    joinStreams(source, through);
    source.write('some bytes');
    source.destroy();
    await closed(through);
    assert.equal((through.errored as NodeJS.ErrnoException | null)?.code, 'ERR_STREAM_PREMATURE_CLOSE');
  });

  void it('fails the other side at once when the source had already failed', async () => {
    const source = new PassThrough();
    source.on('error', () => undefined);
    source.destroy(new Error('already broken'));
    await closed(source);
    const through = new PassThrough();
    through.on('error', () => undefined);
    joinStreams(source, through);
    await closed(through);
    assert.match(String(through.errored), /already broken/);
  });

  void it('stops reading the source when the other side is destroyed', async () => {
    let reads = 0;
    const source = new Readable({
      read() {
        reads++;
        // later, as a socket would: pushing at once would starve the loop while through flows
        setImmediate(() => this.push(Buffer.alloc(1000)));
      },
    });
    const through = new PassThrough();
    joinStreams(source, through);
    through.resume();
    await new Promise((resolve) => setImmediate(resolve));
    through.destroy();
    await closed(source);
    assert.equal(source.destroyed, true);
    const after = reads;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(reads, after, 'no read after the destroy');
  });
});

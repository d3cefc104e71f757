/**
 * The pkt-line codec (src/ssh/pkt-line.ts): what the writer frames the reader reads back, however
 * the bytes are split into chunks on the way; malformed headers and streams cut inside a packet
 * are PktLineErrors, a stream cut between packets is its clean end.
 */
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import fc from 'fast-check';
import {
  DELIM,
  FLUSH,
  MAX_PAYLOAD,
  PktLineError,
  PktLineReader,
  PktLineWriter,
  type Packet,
} from '../../src/ssh/pkt-line.js';

const SEED = process.env.FC_SEED ? Number(process.env.FC_SEED) : Date.now() % 2 ** 31;
console.log(`# fast-check seed ${SEED} (replay: FC_SEED=${SEED})`);

async function readAll(input: Readable): Promise<Packet[]> {
  const reader = new PktLineReader(input);
  const packets: Packet[] = [];
  for (let p = await reader.read(); p; p = await reader.read()) packets.push(p);
  return packets;
}

/** `bytes` delivered in pieces cut at `cuts` (fractions of the length) */
function chunked(bytes: Buffer, cuts: number[]): Readable {
  const points = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let at = 0;
  for (const point of [...points, bytes.length]) {
    if (point > at) pieces.push(bytes.subarray(at, point));
    at = Math.max(at, point);
  }
  return Readable.from(pieces);
}

void describe('pkt-line', () => {
  void it('frames as the protocol document shows (lengths exact)', async () => {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    const writer = new PktLineWriter(out);
    await writer.packets(['status 200', DELIM, 'abc', FLUSH]);
    await writer.data(Buffer.from('abc123'));
    assert.equal(Buffer.concat(chunks).toString(), '000fstatus 200\n00010008abc\n0000000aabc123');
    await assert.rejects(writer.data(Buffer.alloc(MAX_PAYLOAD + 1)), /too large/);
  });

  void it('reads back what it wrote, however the stream is cut into chunks', async () => {
    const item = fc.oneof(
      fc.constant<'flush'>('flush'),
      fc.constant<'delim'>('delim'),
      fc.uint8Array({ minLength: 0, maxLength: 300 }),
      fc.constant(new Uint8Array(MAX_PAYLOAD).fill(7)),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(item, { maxLength: 20 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true })),
        async (items, cuts) => {
          const out = new PassThrough();
          const written: Buffer[] = [];
          out.on('data', (c: Buffer) => written.push(c));
          const writer = new PktLineWriter(out);
          const expected: Packet[] = [];
          for (const it of items) {
            if (it === 'flush') {
              await writer.flush();
              expected.push({ type: 'flush' });
            } else if (it === 'delim') {
              await writer.delim();
              expected.push({ type: 'delim' });
            } else if (it.length > 0) {
              await writer.data(Buffer.from(it));
              expected.push({ type: 'data', data: Buffer.from(it) });
            }
          }
          const got = await readAll(chunked(Buffer.concat(written), cuts));
          assert.deepEqual(
            got.map((p) => (p.type === 'data' ? Buffer.from(p.data).toString('hex') : p.type)),
            expected.map((p) => (p.type === 'data' ? p.data.toString('hex') : p.type)),
          );
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
  });

  void it('refuses malformed headers and streams cut inside a packet', async () => {
    for (const [bytes, message] of [
      ['zzzz', /malformed pkt-line header/],
      ['00A1', /malformed pkt-line header/],
      ['0002', /invalid pkt-line length 2/],
      ['fff5', /invalid pkt-line length/],
      ['000aab', /ended inside a packet/],
      ['00', /ended inside a packet header/],
    ] as const) {
      await assert.rejects(readAll(Readable.from([Buffer.from(bytes)])), (err: Error) => {
        assert.ok(err instanceof PktLineError, bytes);
        assert.match(err.message, message);
        return true;
      });
    }
    assert.deepEqual(await readAll(Readable.from([Buffer.from('0000')])), [{ type: 'flush' }]);
    assert.deepEqual(await readAll(Readable.from([])), []);
  });

  void it('takes from its stream only a little ahead of the packets read, and loses nothing', async () => {
    const input = new PassThrough({ highWaterMark: 64 * 1024 * 1024 });
    const payloads = Array.from({ length: 40 }, (_, i) => Buffer.alloc(MAX_PAYLOAD, i));
    const writer = new PktLineWriter(input);
    for (const payload of payloads) await writer.data(payload);
    await writer.flush();
    const total = input.readableLength;
    const reader = new PktLineReader(input);
    const first = await reader.read();
    assert.deepEqual(first, { type: 'data', data: payloads[0] });
    await nextTurn();
    // paused with at most about two packets taken: the rest waits in the stream (and, over SSH,
    // behind the client's window)
    assert.ok(input.isPaused(), 'the stream is paused');
    assert.ok(
      input.readableLength > total - 4 * (MAX_PAYLOAD + 4),
      `${total - input.readableLength} of ${total} bytes taken`,
    );
    for (const payload of payloads.slice(1))
      assert.deepEqual(await reader.read(), { type: 'data', data: payload });
    assert.deepEqual(await reader.read(), { type: 'flush' });
    input.end();
    assert.equal(await reader.read(), undefined);
  });

  void it('fails a read when its stream errs or closes before its end', async () => {
    const broken = new PassThrough();
    const reader = new PktLineReader(broken);
    broken.write('000');
    const pending = reader.read();
    broken.destroy(new Error('connection reset'));
    await assert.rejects(pending, /connection reset/);
    const closed = new PassThrough();
    const cut = new PktLineReader(closed);
    const waiting = cut.read();
    closed.destroy();
    await assert.rejects(
      waiting,
      (err: Error) => err instanceof PktLineError && /closed before its end/.test(err.message),
    );
  });
});

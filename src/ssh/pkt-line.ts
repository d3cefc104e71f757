/**
 * Git's pkt-line framing as `git-lfs-transfer` uses it (LFS-PROTOCOL.md section 5.3): four
 * lowercase hex digits giving the packet's whole length (header included), `0000` flush, `0001`
 * delimiter. The reader takes bytes from a stream only as packets need them, so a data stream of
 * any size passes through with one packet in memory at a time.
 */
import type { Readable, Writable } from 'node:stream';

/** the largest payload lfsd sends (the protocol's limit: 65520 bytes with the header, git-lfs reads up to 65516) */
export const MAX_PAYLOAD = 65515;
/** the largest packet lfsd accepts, header included */
const MAX_PACKET = 65520;

export type Packet = { type: 'data'; data: Buffer } | { type: 'flush' } | { type: 'delim' };

/** A stream that is not pkt-line: the session cannot continue (no way to find the next packet). */
export class PktLineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PktLineError';
  }
}

/**
 * Bytes the reader takes from its stream before it pauses it until a packet needs more: two of the
 * largest packets, so that one is always ready while the next arrives, and a client that sends
 * faster than lfsd stores is held back by its SSH window.
 */
const READ_AHEAD = 2 * MAX_PACKET;

export class PktLineReader {
  /** bytes received and not yet read, as they arrived (a packet is copied only when it spans chunks) */
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private failure: Error | undefined;
  /** resolves the wait of `fill` when a chunk, the end or an error arrives */
  private wake: (() => void) | undefined;

  /**
   * Chunks are taken as `data` events deliver them. Node's async iterator over a stream, used
   * before, handed over everything buffered joined into one new buffer: a copy of most bytes of an
   * upload (`fromList`, 131 ms of server CPU for 256 MiB pushed over SSH, in a profile), and no
   * limit on what it took (test/e2e/git-lfs-ssh-memory.test.ts's push on Node 20: RSS growth
   * 27-30 MB now, 36-49 MB before). The stream is not destroyed at its end: an SSH channel whose
   * client has sent EOF must still carry the answer and the exit status.
   */
  constructor(private readonly input: Readable) {
    input.on('data', (chunk: Buffer | string) => {
      const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      if (bytes.length === 0) return;
      this.chunks.push(bytes);
      this.buffered += bytes.length;
      if (this.buffered >= READ_AHEAD) input.pause();
      this.wakeUp();
    });
    input.once('end', () => {
      this.ended = true;
      this.wakeUp();
    });
    input.on('error', (err: Error) => {
      this.failure ??= err;
      this.wakeUp();
    });
    input.once('close', () => {
      // the client's connection dropped: its doing, like a stream cut inside a packet
      if (!this.ended) this.failure ??= new PktLineError('the stream closed before its end');
      this.wakeUp();
    });
  }

  /** the next packet; undefined at the end of the stream between packets; PktLineError within one */
  async read(): Promise<Packet | undefined> {
    if (!(await this.fill(4))) {
      if (this.buffered === 0) return undefined;
      throw new PktLineError('the stream ended inside a packet header');
    }
    const header = this.take(4).toString('latin1');
    if (!/^[0-9a-f]{4}$/.test(header))
      throw new PktLineError(`malformed pkt-line header ${JSON.stringify(header)}`);
    const length = parseInt(header, 16);
    if (length === 0) return { type: 'flush' };
    if (length === 1) return { type: 'delim' };
    if (length < 4 || length > MAX_PACKET) throw new PktLineError(`invalid pkt-line length ${length}`);
    if (!(await this.fill(length - 4))) throw new PktLineError('the stream ended inside a packet');
    return { type: 'data', data: this.take(length - 4) };
  }

  /** a text packet's line without its trailing LF; PktLineError for anything but a data packet */
  static text(packet: Packet | undefined): string {
    if (packet?.type !== 'data') throw new PktLineError('expected a text packet');
    const text = packet.data.toString('utf8');
    return text.endsWith('\n') ? text.slice(0, -1) : text;
  }

  /** whether `bytes` bytes are buffered, reading more as needed; false at the end of the stream */
  private async fill(bytes: number): Promise<boolean> {
    while (this.buffered < bytes) {
      if (this.failure) throw this.failure;
      if (this.ended) return false;
      this.input.resume();
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    return true;
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** the next `bytes` buffered bytes: a view of one chunk, or a copy when they span several */
  private take(bytes: number): Buffer {
    this.buffered -= bytes;
    const first = this.chunks[0] as Buffer;
    if (first.length >= bytes) {
      if (first.length === bytes) this.chunks.shift();
      else this.chunks[0] = first.subarray(bytes);
      return first.subarray(0, bytes);
    }
    const out = Buffer.allocUnsafe(bytes);
    for (let at = 0; at < bytes;) {
      const chunk = this.chunks[0] as Buffer;
      const count = Math.min(chunk.length, bytes - at);
      chunk.copy(out, at, 0, count);
      if (count === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(count);
      at += count;
    }
    return out;
  }
}

/** the items of `PktLineWriter.packets` that stand for a flush or a delimiter rather than a line */
export const FLUSH: unique symbol = Symbol('flush');
export const DELIM: unique symbol = Symbol('delim');

function header(length: number): string {
  return length.toString(16).padStart(4, '0');
}

/** Writes packets, waiting whenever the stream asks to (so a slow client bounds what lfsd buffers). */
export class PktLineWriter {
  constructor(private readonly output: Writable) {}

  /** text packet; adds the trailing LF */
  text(line: string): Promise<void> {
    return this.data(Buffer.from(`${line}\n`, 'utf8'));
  }

  /** one data packet (at most MAX_PAYLOAD bytes) */
  async data(payload: Buffer): Promise<void> {
    if (payload.length > MAX_PAYLOAD) throw new Error(`pkt-line payload too large: ${payload.length}`);
    await this.write(Buffer.concat([Buffer.from(header(payload.length + 4), 'latin1'), payload]));
  }

  /** data packets carrying `bytes`, split at MAX_PAYLOAD */
  async bytes(bytes: Buffer): Promise<void> {
    for (let at = 0; at < bytes.length; at += MAX_PAYLOAD)
      await this.data(bytes.subarray(at, at + MAX_PAYLOAD));
  }

  /**
   * Several packets in one write (an answer's status, arguments and lines): one SSH packet instead
   * of one per line, which a peer acknowledging late would otherwise wait on.
   */
  async packets(list: ReadonlyArray<string | typeof FLUSH | typeof DELIM>): Promise<void> {
    const parts: Buffer[] = [];
    for (const item of list) {
      if (item === FLUSH) parts.push(Buffer.from('0000', 'latin1'));
      else if (item === DELIM) parts.push(Buffer.from('0001', 'latin1'));
      else {
        const payload = Buffer.from(`${item}\n`, 'utf8');
        if (payload.length > MAX_PAYLOAD) throw new Error(`pkt-line payload too large: ${payload.length}`);
        parts.push(Buffer.from(header(payload.length + 4), 'latin1'), payload);
      }
    }
    await this.write(Buffer.concat(parts));
  }

  flush(): Promise<void> {
    return this.write(Buffer.from('0000', 'latin1'));
  }

  delim(): Promise<void> {
    return this.write(Buffer.from('0001', 'latin1'));
  }

  private write(buffer: Buffer): Promise<void> {
    if (this.output.destroyed || this.output.writableEnded) {
      return Promise.reject(new Error('the connection is closed'));
    }
    if (this.output.write(buffer)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        this.output.off('drain', onDrain);
        this.output.off('close', onClose);
        this.output.off('error', done);
        if (err) reject(err);
        else resolve();
      };
      const onDrain = () => done();
      const onClose = () => done(new Error('the connection is closed'));
      this.output.once('drain', onDrain);
      this.output.once('close', onClose);
      this.output.once('error', done);
    });
  }
}

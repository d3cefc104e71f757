/** A minimal `git-lfs-transfer` client for tests: writes requests and reads answers as pkt-lines. */
import type { Readable, Writable } from 'node:stream';
import { PktLineReader, PktLineWriter } from '../../src/ssh/pkt-line.js';

export interface PktAnswer {
  status: number;
  args: string[];
  /** text lines after the delimiter */
  lines: string[];
  /** the same, as bytes (get-object) */
  data: Buffer;
}

export class PktClient {
  readonly reader: PktLineReader;
  readonly writer: PktLineWriter;

  constructor(
    input: Readable,
    private readonly output: Writable,
  ) {
    this.reader = new PktLineReader(input);
    this.writer = new PktLineWriter(output);
  }

  /** reads the capabilities and negotiates version 1 */
  async handshake(): Promise<string[]> {
    const caps: string[] = [];
    for (let p = await this.reader.read(); p?.type === 'data'; p = await this.reader.read())
      caps.push(PktLineReader.text(p));
    await this.request(['version 1']);
    const answer = await this.answer();
    if (answer.status !== 200) throw new Error(`version refused: ${answer.status}`);
    return caps;
  }

  /** a request: its lines, then (when given) a delimiter and a body of lines or bytes, then a flush */
  async request(head: string[], body?: string[] | Buffer): Promise<void> {
    for (const line of head) await this.writer.text(line);
    if (body !== undefined) {
      await this.writer.delim();
      if (Buffer.isBuffer(body)) {
        for (let at = 0; at < body.length; at += 32768) await this.writer.data(body.subarray(at, at + 32768));
      } else for (const line of body) await this.writer.text(line);
    }
    await this.writer.flush();
  }

  async answer(): Promise<PktAnswer> {
    const status = PktLineReader.text(await this.reader.read());
    const match = /^status (\d{3})$/.exec(status);
    if (!match) throw new Error(`expected a status line, got ${status}`);
    const args: string[] = [];
    const chunks: Buffer[] = [];
    let afterDelim = false;
    for (;;) {
      const p = await this.reader.read();
      if (!p) throw new Error('stream ended inside an answer');
      if (p.type === 'flush') break;
      if (p.type === 'delim') afterDelim = true;
      else if (afterDelim) chunks.push(p.data);
      else args.push(PktLineReader.text(p));
    }
    const data = Buffer.concat(chunks);
    const lines = chunks.map((c) => c.toString('utf8').replace(/\n$/, ''));
    return { status: Number(match[1]), args, lines, data };
  }

  async call(head: string[], body?: string[] | Buffer): Promise<PktAnswer> {
    await this.request(head, body);
    return this.answer();
  }

  end(): void {
    this.output.end();
  }
}

/**
 * One `git-lfs-transfer <repo> upload|download` session (LFS-PROTOCOL.md section 5.3): capability
 * and version negotiation, then requests until `quit` or the end of the stream. Every request asks
 * the services the HTTP API asks (openRepo for access, parseBatchRequest and BatchDecider for a
 * batch, TransferService for objects, LockService for locks), so no rule lives here twice; this
 * module only translates pkt-lines to those calls and their answers (or LfsErrors) back.
 *
 * The session's credential is checked again before every request: removing the key (or its user)
 * refuses the next request of a session that is already open, and ends it.
 */
import { once } from 'node:events';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import type { UserCaller } from '../auth/caller.js';
import { isLfsError, type LfsError } from '../errors.js';
import { parseBatchRequest, type Operation } from '../lfs/batch-request.js';
import type { LockJson } from '../lfs/lock-service.js';
import { openRepo } from '../lfs/repo-access.js';
import { isValidOid, isValidSize } from '../rules.js';
import { DELIM, FLUSH, PktLineError, PktLineReader, PktLineWriter, type Packet } from './pkt-line.js';
import { currentCaller, type SshDeps, type SshIdentity } from './ssh-deps.js';

/** What a request holds before its body: the command line and `key=value` arguments. */
interface RequestHead {
  line: string;
  args: Map<string, string>;
  /** a delimiter followed the arguments: a body (batch lines, object data) comes next */
  hasBody: boolean;
}

/** An answer: status, argument lines, and after a delimiter message or data lines. */
interface Answer {
  status: number;
  args?: string[];
  lines?: string[];
}

/**
 * Buffers dropped per object byte here, besides the chunks the store is told of (it counts each
 * upload once), for server/transfer-garbage.ts: in, the socket reads and ssh2's decrypted packets
 * (counted as one: with the store's, a collection every 4 MiB of an SSH upload, against 8 MiB for
 * HTTP, whose socket reads are the chunks the store sees); out, the pkt-line packet and ssh2's
 * encrypted packet. Every 4 MiB is where a 200 MB object over SSH grew the least (test/e2e/
 * git-lfs-ssh-memory.test.ts, Node 20 and 24: 36-49 MB in 7 runs, against 55-88 MB without
 * collections, and 33-64 MB with one every 2.7 MiB).
 */
const SSH_BUFFERS_IN = 1;
const SSH_BUFFERS_OUT = 2;

export interface SessionIo {
  input: Readable;
  output: Writable;
}

export class TransferSession {
  private readonly reader: PktLineReader;
  private readonly writer: PktLineWriter;
  /** requests answered, for the session's log line */
  requests = 0;

  constructor(
    private readonly deps: SshDeps,
    private readonly identity: SshIdentity,
    private readonly repoPath: string,
    private readonly operation: Operation,
    io: SessionIo,
    private readonly signal: AbortSignal,
  ) {
    this.reader = new PktLineReader(io.input);
    this.writer = new PktLineWriter(io.output);
  }

  /**
   * Runs the session to its end. Resolves when the client quits or leaves between requests; a
   * stream that is not pkt-line, or that ends inside a request, rejects with PktLineError.
   */
  async run(): Promise<void> {
    await this.writer.packets(['version=1', 'locking', FLUSH]);
    if (!(await this.negotiate())) return;
    for (;;) {
      const head = await this.readHead();
      if (!head) return;
      const name = head.line.split(' ', 1)[0] as string;
      let answer: Answer;
      try {
        answer = await this.handle(name, head);
      } catch (err) {
        if (err instanceof PktLineError) throw err;
        answer = this.failure(name, err);
      }
      this.deps.metrics?.commands.inc({
        command: KNOWN.has(name) ? name : 'unknown',
        outcome: answer.status < 300 ? 'ok' : 'error',
      });
      this.requests++;
      await this.send(answer);
      if (name === 'quit') return;
      if (answer.status === 401) return; // the credential is gone: nothing more will be answered
    }
  }

  /** the client's `version 1`; anything else is refused (the client then falls back to HTTP) */
  private async negotiate(): Promise<boolean> {
    const head = await this.readHead();
    if (!head) return false;
    if (head.hasBody) await this.skipBody();
    if (head.line !== 'version 1') {
      await this.send({ status: 400, lines: [`unsupported version: ${head.line.slice(0, 100)}`] });
      return false;
    }
    await this.send({ status: 200 });
    return true;
  }

  private async handle(name: string, head: RequestHead): Promise<Answer> {
    if (name === 'quit') {
      if (head.hasBody) await this.skipBody();
      return { status: 200 };
    }
    const caller = await currentCaller(this.deps, this.identity);
    if (!caller) {
      if (head.hasBody) await this.skipBody();
      return { status: 401, lines: ['your SSH key or account was removed: access ended'] };
    }
    if (!this.touched && this.identity.credential.kind === 'ssh-key') this.touchKey();
    switch (name) {
      case 'batch':
        return this.batch(caller, head);
      case 'put-object':
        return this.putObject(caller, head);
      case 'get-object':
        return this.withoutBody(head, () => this.getObject(caller, head));
      case 'verify-object':
        return this.withoutBody(head, () => this.verifyObject(caller, head));
      case 'lock':
        return this.withoutBody(head, () => this.lock(caller, head));
      case 'list-lock':
        return this.withoutBody(head, () => this.listLocks(caller, head));
      case 'unlock':
        return this.withoutBody(head, () => this.unlock(caller, head));
      default:
        if (head.hasBody) await this.skipBody();
        return { status: 400, lines: [`unknown command: ${name.slice(0, 100)}`] };
    }
  }

  /** a request without a body: one that has one anyway is read to its end, then answered */
  private async withoutBody(head: RequestHead, answer: () => Promise<Answer>): Promise<Answer> {
    if (head.hasBody) await this.skipBody();
    return answer();
  }

  // ---- batch

  private async batch(caller: UserCaller, head: RequestHead): Promise<Answer> {
    const lines = head.hasBody ? await this.readLines(this.deps.limits.maxObjects + 1) : [];
    const objects = lines.map((line) => {
      const [oid, size] = line.split(' ');
      return { oid, size: size !== undefined && /^[0-9]{1,16}$/.test(size) ? Number(size) : size };
    });
    const refName = head.args.get('refname');
    const request = parseBatchRequest(
      {
        operation: this.operation,
        objects,
        hash_algo: head.args.get('hash-algo'),
        ref: refName ? { name: refName } : undefined,
      },
      this.deps.limits,
    );
    const need = this.operation === 'upload' ? 'write' : 'read';
    const { repo } = await openRepo(this.deps.metadata, caller, this.repoPath, need, {
      create: this.operation === 'upload',
    });
    const decisions = await this.deps.decider.decide(request, repo);
    // the protocol has no per-object error: the first one fails the batch (a download of an
    // object the repository lacks is a 404, not a silent skip)
    const failed = decisions.find((d) => d.action === 'error');
    if (failed?.action === 'error') {
      return { status: failed.error.code, lines: [`${failed.oid}: ${failed.error.message}`] };
    }
    const ACTION = { present: 'noop', upload: 'upload', download: 'download' } as const;
    return {
      status: 200,
      args: ['hash-algo=sha256'],
      lines: decisions.map((d) => `${d.oid} ${d.size} ${ACTION[d.action as keyof typeof ACTION]}`),
    };
  }

  // ---- objects

  private async putObject(caller: UserCaller, head: RequestHead): Promise<Answer> {
    const { oid, size } = this.objectArgs(head);
    const refusal = await this.refusal(caller, 'upload', 'write', oid, size);
    if (refusal) {
      if (head.hasBody) await this.skipBody();
      return refusal;
    }
    const body = new PassThrough();
    const abort = new AbortController();
    const onSessionAbort = () => abort.abort();
    this.signal.addEventListener('abort', onSessionAbort);
    // the upload settles when the store has published the object, or refused it
    const upload = this.deps.transfers.upload(this.repoPath, oid, Number(size), body, abort.signal);
    let failure: unknown;
    const settled = upload.then(
      () => true,
      (err: unknown) => {
        failure = err;
        return true;
      },
    );
    let received = 0;
    try {
      if (head.hasBody) {
        for (;;) {
          const packet = await this.reader.read();
          if (!packet) throw new PktLineError('the connection ended during put-object');
          if (packet.type === 'flush') break;
          if (packet.type === 'delim') throw new PktLineError('unexpected delimiter in object data');
          received += packet.data.length;
          this.deps.garbage?.drop(SSH_BUFFERS_IN * packet.data.length);
          // once the store has refused the object, the rest is read and dropped (keeps the stream in step)
          if (failure !== undefined || body.destroyed) continue;
          if (!body.write(packet.data)) await Promise.race([once(body, 'drain'), settled]);
        }
      }
      body.end();
      await settled;
    } catch (err) {
      // the client left mid-object: the store discards what it has, nothing becomes visible
      abort.abort();
      body.destroy();
      await settled;
      throw err;
    } finally {
      this.signal.removeEventListener('abort', onSessionAbort);
      this.deps.metrics?.bytes.inc({ direction: 'in' }, received);
    }
    if (failure !== undefined) throw failure;
    return { status: 200 };
  }

  private async getObject(caller: UserCaller, head: RequestHead): Promise<Answer> {
    const { oid, size } = this.objectArgs(head);
    const refusal = await this.refusal(caller, 'download', 'read', oid, size ?? '0');
    if (refusal) return refusal;
    const stored = await this.deps.transfers.linkedSize(this.repoPath, oid);
    const found = await this.deps.transfers.read(oid, undefined, this.signal);
    // the answer streams from here; an error now can only end the session
    try {
      await this.writer.packets(['status 200', `size=${stored}`, DELIM]);
      for await (const chunk of found.body) {
        await this.writer.bytes(chunk as Buffer);
        this.deps.metrics?.bytes.inc({ direction: 'out' }, (chunk as Buffer).length);
        this.deps.garbage?.drop(SSH_BUFFERS_OUT * (chunk as Buffer).length);
      }
      await this.writer.flush();
    } catch (err) {
      found.body.destroy();
      throw new PktLineError(`get-object ${oid} failed mid-stream: ${(err as Error).message}`);
    }
    return SENT;
  }

  private async verifyObject(caller: UserCaller, head: RequestHead): Promise<Answer> {
    const { oid, size } = this.objectArgs(head);
    const refusal = await this.refusal(caller, 'upload', 'write', oid, size);
    if (refusal) return refusal;
    try {
      await this.deps.transfers.verify(this.repoPath, oid, Number(size));
    } catch (err) {
      // section 5.3: a size that does not match is 409 here
      if (isLfsError(err) && err.code === 'validation') return { status: 409, lines: [err.message] };
      throw err;
    }
    return { status: 200 };
  }

  private objectArgs(head: RequestHead): { oid: string; size: string | undefined } {
    return { oid: head.line.split(' ')[1] ?? '', size: head.args.get('size') };
  }

  /**
   * The answer that refuses an object request before anything is read or stored: wrong operation
   * for this session (403), no access (openRepo's 403/404), malformed oid or size (400).
   */
  private async refusal(
    caller: UserCaller,
    operation: Operation,
    need: 'read' | 'write',
    oid: string,
    size: string | undefined,
  ): Promise<Answer | undefined> {
    if (this.operation !== operation) {
      return { status: 403, lines: [`not allowed on a ${this.operation} connection`] };
    }
    await openRepo(this.deps.metadata, caller, this.repoPath, need, { create: need === 'write' });
    if (!isValidOid(oid))
      return { status: 400, lines: ['invalid oid: expected 64 lowercase hex characters'] };
    if (size === undefined || !/^[0-9]{1,16}$/.test(size) || !isValidSize(Number(size))) {
      return { status: 400, lines: ['invalid or missing size'] };
    }
    return undefined;
  }

  // ---- locks

  private async lock(caller: UserCaller, head: RequestHead): Promise<Answer> {
    const refName = head.args.get('refname');
    const result = await this.deps.locks.create(caller, this.repoPath, {
      path: head.args.get('path'),
      ref: refName ? { name: refName } : undefined,
    });
    const args = lockArgs(result.lock);
    return result.created ? { status: 201, args } : { status: 409, args, lines: ['conflict'] };
  }

  private async listLocks(caller: UserCaller, head: RequestHead): Promise<Answer> {
    const { args } = head;
    const limit = args.get('limit');
    let locks: Array<{ lock: LockJson; ours: boolean }>;
    let nextCursor: string | undefined;
    if (this.operation === 'upload') {
      // on an upload connection the client verifies before a push: ours and theirs
      const refName = args.get('refname');
      const page = await this.deps.locks.verify(caller, this.repoPath, {
        ref: refName ? { name: refName } : undefined,
        cursor: args.get('cursor') || undefined,
        limit: limit !== undefined && /^[0-9]{1,9}$/.test(limit) ? Number(limit) : limit,
      });
      locks = [
        ...page.ours.map((lock) => ({ lock, ours: true })),
        ...page.theirs.map((lock) => ({ lock, ours: false })),
      ];
      nextCursor = page.next_cursor;
    } else {
      const query: Record<string, string> = {};
      for (const key of ['path', 'id', 'cursor', 'limit', 'refspec']) {
        const value = args.get(key);
        if (value) query[key] = value;
      }
      const page = await this.deps.locks.list(caller, this.repoPath, query);
      locks = page.locks.map((lock) => ({ lock, ours: lock.owner.name === caller.user.name }));
      nextCursor = page.next_cursor;
    }
    const lines: string[] = [];
    for (const { lock, ours } of locks) {
      lines.push(
        `lock ${lock.id}`,
        `path ${lock.id} ${lock.path}`,
        `locked-at ${lock.id} ${lock.locked_at}`,
        `ownername ${lock.id} ${lock.owner.name}`,
        `owner ${lock.id} ${ours ? 'ours' : 'theirs'}`,
      );
    }
    return { status: 200, args: nextCursor ? [`next-cursor=${nextCursor}`] : [], lines };
  }

  private async unlock(caller: UserCaller, head: RequestHead): Promise<Answer> {
    const id = head.line.split(' ')[1] ?? '';
    const refName = head.args.get('refname');
    const force = head.args.get('force');
    const lock = await this.deps.locks.unlock(caller, this.repoPath, id, {
      force: force === undefined ? undefined : force === 'true',
      ref: refName ? { name: refName } : undefined,
    });
    return { status: 200, args: lockArgs(lock) };
  }

  // ---- framing

  /** the next request's command line and arguments; undefined when the client left between requests */
  private async readHead(): Promise<RequestHead | undefined> {
    const first = await this.reader.read();
    if (!first) return undefined;
    const line = PktLineReader.text(first);
    const args = new Map<string, string>();
    for (;;) {
      const packet: Packet | undefined = await this.reader.read();
      if (!packet) throw new PktLineError(`the connection ended inside the ${line.split(' ')[0]} request`);
      if (packet.type === 'flush') return { line, args, hasBody: false };
      if (packet.type === 'delim') return { line, args, hasBody: true };
      const arg = PktLineReader.text(packet);
      const eq = arg.indexOf('=');
      if (eq > 0 && !args.has(arg.slice(0, eq))) args.set(arg.slice(0, eq), arg.slice(eq + 1));
    }
  }

  /** text lines up to the flush; past `max`, lines are read and dropped */
  private async readLines(max: number): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const packet = await this.reader.read();
      if (!packet) throw new PktLineError('the connection ended inside a request body');
      if (packet.type === 'flush') return lines;
      if (packet.type === 'delim') throw new PktLineError('unexpected delimiter in a request body');
      if (lines.length < max) lines.push(PktLineReader.text(packet));
    }
  }

  private async skipBody(): Promise<void> {
    for (;;) {
      const packet = await this.reader.read();
      if (!packet) throw new PktLineError('the connection ended inside a request body');
      if (packet.type === 'flush') return;
    }
  }

  private async send(answer: Answer): Promise<void> {
    if (answer === SENT) return;
    const packets: Array<string | typeof FLUSH | typeof DELIM> = [`status ${answer.status}`];
    packets.push(...(answer.args ?? []));
    if (answer.lines) packets.push(DELIM, ...answer.lines);
    packets.push(FLUSH);
    // a batch answer of 1,000 lines is about 80 KB: one write
    await this.writer.packets(packets);
  }

  /** an LfsError's status and message; anything else is logged and answered 500 */
  private failure(name: string, err: unknown): Answer {
    if (isLfsError(err)) return { status: sshStatus(err), lines: [err.message] };
    this.deps.logger.error(
      { err, command: name, repo: this.repoPath, fingerprint: this.identity.fingerprint },
      'git-lfs-transfer request failed',
    );
    return { status: 500, lines: ['internal server error'] };
  }

  private touched = false;

  /** the key's last use, once per session */
  private touchKey(): void {
    this.touched = true;
    this.deps.metadata.touchSshKey(Number(this.identity.credential.id), new Date()).catch(() => {});
  }
}

/** get-object writes its own answer (it streams): this stands for "already sent" */
const SENT: Answer = { status: 200 };

const KNOWN = new Set([
  'batch',
  'put-object',
  'get-object',
  'verify-object',
  'lock',
  'list-lock',
  'unlock',
  'quit',
]);

function lockArgs(lock: LockJson): string[] {
  return [
    `id=${lock.id}`,
    `path=${lock.path}`,
    `locked-at=${lock.locked_at}`,
    `ownername=${lock.owner.name}`,
  ];
}

/** HTTP's statuses carry over (section 5.3 uses them), but 422 is a bad request here */
function sshStatus(err: LfsError): number {
  return err.status === 422 ? 400 : err.status;
}

/**
 * The storage lifecycle's metadata (issue 14, README "Storage lifecycle"): usage counters, quotas
 * and their reservations, and the rows garbage collection and fsck work through. SQL for all three
 * dialects; src/lifecycle/ holds the rules and talks to this only.
 *
 * The gc safety protocol (what makes "never delete content a repository links" hold):
 * 1. gc marks candidates: content no repository links, neither linked, unlinked nor offered for
 *    upload within the grace period (objects.marked_at);
 * 2. for each mark, gc claims the object in one transaction that locks its objects row: still
 *    marked, still unlinked, not held within the grace, and not offered for upload since the mark
 *    or within the grace; it sets deleting_at, and only then deletes the content. Once the content
 *    is gone the row stays a while as a tombstone (deleting_at set, marked_at cleared);
 * 3. every link (`link`) locks the same row first, and refuses a claimed object, a tombstone, or a
 *    row that vanished meanwhile (ObjectBeingCollectedError): the content an uploader stored may
 *    have been deleted after its put. The uploader waits for gc to finish, checks that the store
 *    holds the bytes, and links with `contentChecked` (or answers 503 so the client sends them
 *    again: TransferService). A link that commits first makes the claim find it.
 * So a claim and a link of the same oid are serialized by the objects row lock (SQLite: by its one
 * writer), content is deleted only under a claim no link can pass, and a link made after a
 * deletion it could not see finds the tombstone. Tombstones go after TOMBSTONE_TTL_MS: far longer
 * than the moment between a put and its link.
 */
import { CompiledQuery, sql } from 'kysely';
import type { Compilable, Kysely, Transaction } from 'kysely';
import { setTimeout as sleep } from 'node:timers/promises';
import { namespaceOf } from '../rules.js';
import { CompiledQueries } from './compiled-queries.js';
import type { DialectName } from './dialects.js';
import { toDate, toNumber } from './row-mappers.js';
import type { Database } from './schema.js';
import {
  dbTimestamp,
  isDeadlock,
  isSqliteBusy,
  isUniqueViolation,
  skipDuplicate,
} from './sql-portability.js';

/** The object's content is being deleted by gc right now: link it again once gc is done. */
export class ObjectBeingCollectedError extends Error {
  constructor(readonly oid: string) {
    super(`object ${oid} is being garbage collected`);
    this.name = 'ObjectBeingCollectedError';
  }
}

/** Options of `link`. */
export interface LinkOptions {
  /** the caller saw the content in the store after gc last deleted it: link over a tombstone */
  contentChecked?: boolean;
}

/** How long the row of collected content stays as a tombstone (see the protocol above). */
export const TOMBSTONE_TTL_MS = 60 * 60 * 1000;

/** How long an upload batch's offer counts against a quota while its object is not linked. */
export const RESERVATION_TTL_MS = 60 * 60 * 1000;

export interface RepoUsage {
  repoId: number;
  path: string;
  objects: number;
  bytes: number;
  quotaBytes: number | null;
}

export interface UsageReport {
  repos: RepoUsage[];
  /** distinct objects linked by the repositories listed: shared content counted once */
  total: { objects: number; bytes: number };
}

export interface QuotaRecord {
  kind: 'repo' | 'user';
  /** repository path or user name */
  name: string;
  quotaBytes: number;
  usageBytes: number;
}

/** Why an object of an upload batch is refused: the quota it would exceed. */
export interface QuotaRefusal {
  scope: 'repository' | 'user';
  name: string;
  quotaBytes: number;
  /** linked bytes plus the uploads granted and not yet linked */
  usageBytes: number;
  askedBytes: number;
}

export interface ObjectRow {
  oid: string;
  size: number;
  broken: boolean;
}

export interface MarkedRow {
  oid: string;
  size: number;
  /** a claim of an earlier gc run that never finished */
  deleting: boolean;
}

const OIDS_PER_QUERY = 500;
const BEGIN_IMMEDIATE = CompiledQuery.raw('begin immediate');
const COMMIT = CompiledQuery.raw('commit');
const ROLLBACK = CompiledQuery.raw('rollback');
const TRANSACTION_ATTEMPTS = 5;
/** the value compiled statements are built with where a timestamp goes (each run passes its own) */
const PLACEHOLDER_TIME = '1970-01-01 00:00:00';

/** What the rest of lfsd uses (MetadataStore.lifecycle). */
export type LifecycleMetadata = Omit<SqlLifecycleMetadata, 'write' | 'releaseRepo'>;

export class SqlLifecycleMetadata {
  /** the statements of every upload's link, compiled once */
  private readonly compiled = new CompiledQueries();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: DialectName,
  ) {}

  private ts(date: Date) {
    return dbTimestamp(this.dialect, date);
  }

  /**
   * `work` in one write transaction: SQLite takes its write lock up front (`begin immediate`:
   * another process may be writing, and a read transaction cannot always become a writer);
   * PostgreSQL and MySQL retry on a deadlock.
   */
  async write<T>(work: (tx: Kysely<Database>) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        if (this.dialect !== 'sqlite') {
          return await this.db.transaction().execute((tx: Transaction<Database>) => work(tx));
        }
        return await this.db.connection().execute(async (connection) => {
          await connection.executeQuery(BEGIN_IMMEDIATE);
          try {
            const result = await work(connection);
            await connection.executeQuery(COMMIT);
            return result;
          } catch (err) {
            // SQLite has rolled back already after some errors (SQLITE_FULL, SQLITE_IOERR): a
            // failing ROLLBACK ("no transaction is active") must not hide why the work failed
            await connection.executeQuery(ROLLBACK).catch(() => undefined);
            throw err;
          }
        });
      } catch (err) {
        if (attempt >= TRANSACTION_ATTEMPTS || !(isDeadlock(err) || isSqliteBusy(err))) throw err;
        await sleep(20 + Math.random() * 80);
      }
    }
  }

  /** `for update` where the dialect has row locks (SQLite's writer lock covers it) */
  private locked<Q extends { forUpdate(): Q }>(query: Q): Q {
    return this.dialect === 'sqlite' ? query : query.forUpdate();
  }

  // ---- links

  /**
   * Records the object and links it to the repository, with the repository's usage, in one
   * transaction; clears a gc mark and a repair's broken flag. Throws ObjectBeingCollectedError
   * when gc has claimed the object (its content may be going).
   */
  async link(repoId: number, oid: string, size: number, options: LinkOptions = {}): Promise<void> {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid object size ${size}`);
    // every upload links: its statements are compiled once (compiled-queries.ts), with their
    // parameters in the order of the SQL
    const run = <R>(tx: Kysely<Database>, name: string, build: () => Compilable<R>, parameters: unknown[]) =>
      this.compiled.run(tx, `link-${name}`, build, parameters);
    // a placeholder for the timestamp parameters, used when a statement is first compiled
    const at = PLACEHOLDER_TIME;
    await this.write(async (tx) => {
      const now = this.ts(new Date());
      await this.lockRepoForUsage(tx, repoId);
      await run(
        tx,
        'object',
        () =>
          skipDuplicate(
            this.dialect,
            tx.insertInto('objects').values({ oid: '', size: 0, created_at: at, held_at: at }),
            'oid',
          ),
        [oid, size, now, now],
      );
      const {
        rows: [row],
      } = await run(
        tx,
        'state',
        () =>
          this.locked(tx.selectFrom('objects').select(['deleting_at', 'marked_at']).where('oid', '=', '')),
        [oid],
      );
      // gone: gc forgot it while this waited for the lock; claimed; or a tombstone (see above)
      if (!row || (row.deleting_at && (row.marked_at || !options.contentChecked))) {
        throw new ObjectBeingCollectedError(oid);
      }
      await run(
        tx,
        'hold',
        () =>
          tx
            .updateTable('objects')
            .set({ held_at: at, marked_at: null, broken_at: null, deleting_at: null })
            .where('oid', '=', ''),
        [now, null, null, null, oid],
      );
      if (await this.insertLink(tx, repoId, oid, now)) {
        await run(
          tx,
          'usage',
          () =>
            tx
              .updateTable('repos')
              .set({
                usage_objects: sql<number>`usage_objects + 1`,
                usage_bytes: sql<number>`usage_bytes + ${0}`,
              })
              .where('id', '=', 0),
          [size, repoId],
        );
      }
      await run(
        tx,
        'offer',
        () => tx.deleteFrom('upload_offers').where('repo_id', '=', 0).where('oid', '=', ''),
        [repoId, oid],
      );
    });
  }

  /**
   * MySQL: the repository row first. Inserting a link takes a shared lock on it (the foreign key),
   * and the usage update then wants it exclusive: two links of one repository would deadlock.
   * PostgreSQL's key-share lock does not conflict with that update; SQLite has one writer.
   */
  private async lockRepoForUsage(tx: Kysely<Database>, repoId: number): Promise<void> {
    if (this.dialect !== 'mysql') return;
    await this.compiled.run(
      tx,
      'lock-repo-for-usage',
      () => tx.selectFrom('repos').select('id').where('id', '=', 0).forUpdate(),
      [repoId],
    );
  }

  /** true when the link is new */
  private async insertLink(
    tx: Kysely<Database>,
    repoId: number,
    oid: string,
    now: Date | string,
  ): Promise<boolean> {
    const insert = () =>
      tx.insertInto('repo_objects').values({ repo_id: 0, oid: '', created_at: PLACEHOLDER_TIME });
    if (this.dialect === 'mysql') {
      // a duplicate-key error ends only the statement in MySQL, not the transaction
      try {
        await this.compiled.run(tx, 'insert-link', insert, [repoId, oid, now]);
        return true;
      } catch (err) {
        if (isUniqueViolation(err)) return false;
        throw err;
      }
    }
    const result = await this.compiled.run(
      tx,
      'insert-link',
      () => insert().onConflict((c) => c.doNothing()),
      [repoId, oid, now],
    );
    return Number(result.numAffectedRows ?? 0n) > 0;
  }

  /** Unlinks `oids` from the repository, with its usage; returns what was unlinked. */
  async unlink(repoId: number, oids: readonly string[]): Promise<{ objects: number; bytes: number }> {
    const total = { objects: 0, bytes: 0 };
    for (let start = 0; start < oids.length; start += OIDS_PER_QUERY) {
      const chunk = oids.slice(start, start + OIDS_PER_QUERY);
      const done = await this.write(async (tx) => {
        await this.lockRepoForUsage(tx, repoId);
        const rows = await this.locked(
          tx
            .selectFrom('repo_objects')
            .innerJoin('objects', 'objects.oid', 'repo_objects.oid')
            .select(['objects.oid', 'objects.size'])
            .where('repo_objects.repo_id', '=', repoId)
            .where('repo_objects.oid', 'in', chunk),
        ).execute();
        if (rows.length === 0) return { objects: 0, bytes: 0 };
        const found = rows.map((r) => r.oid);
        const bytes = rows.reduce((sum, r) => sum + toNumber(r.size), 0);
        await tx.deleteFrom('repo_objects').where('repo_id', '=', repoId).where('oid', 'in', found).execute();
        await tx
          .updateTable('objects')
          .set({ held_at: this.ts(new Date()) })
          .where('oid', 'in', found)
          .execute();
        await tx
          .updateTable('repos')
          .set({
            usage_objects: sql<number>`usage_objects - ${rows.length}`,
            usage_bytes: sql<number>`usage_bytes - ${bytes}`,
          })
          .where('id', '=', repoId)
          .execute();
        return { objects: rows.length, bytes };
      });
      total.objects += done.objects;
      total.bytes += done.bytes;
    }
    return total;
  }

  /** Before a repository goes: its objects were held until now (gc's grace counts from here). */
  async releaseRepo(tx: Kysely<Database>, repoId: number): Promise<void> {
    await tx
      .updateTable('objects')
      .set({ held_at: this.ts(new Date()) })
      .where('oid', 'in', (eb) =>
        eb.selectFrom('repo_objects').select('repo_objects.oid').where('repo_objects.repo_id', '=', repoId),
      )
      .execute();
  }

  /** The repository's linked oids after `after`, in oid order (paging for prune). */
  async linkedPage(repoId: number, after: string, limit: number): Promise<{ oid: string; size: number }[]> {
    const rows = await this.db
      .selectFrom('repo_objects')
      .innerJoin('objects', 'objects.oid', 'repo_objects.oid')
      .select(['objects.oid', 'objects.size'])
      .where('repo_objects.repo_id', '=', repoId)
      .where('repo_objects.oid', '>', after)
      .orderBy('repo_objects.oid')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ oid: r.oid, size: toNumber(r.size) }));
  }

  /**
   * The size of an object whose content the metadata records as stored (not found broken by
   * fsck, not being deleted by gc); undefined otherwise. A hint for an upload's store
   * (TransferService.upload): the store has the last word.
   */
  async storedSize(oid: string): Promise<number | undefined> {
    const {
      rows: [row],
    } = await this.compiled.run(
      this.db,
      'stored-size',
      () => this.db.selectFrom('objects').select(['size', 'broken_at', 'deleting_at']).where('oid', '=', ''),
      [oid],
    );
    return row && !row.broken_at && !row.deleting_at ? toNumber(row.size) : undefined;
  }

  /** 'deleting' while gc has claimed the object and may be deleting its content */
  async collectionState(oid: string): Promise<'none' | 'deleting'> {
    const row = await this.db
      .selectFrom('objects')
      .select(['deleting_at', 'marked_at'])
      .where('oid', '=', oid)
      .executeTakeFirst();
    return row?.deleting_at && row.marked_at ? 'deleting' : 'none';
  }

  // ---- offers and quotas

  /**
   * Records that an upload batch offered these objects to the repository (gc keeps their content;
   * quotas count them as reserved until linked or RESERVATION_TTL_MS old), and refuses those that
   * would take the repository or its owner's namespace past a quota. `counted` objects (already
   * linked to the repository, content missing) are in the usage already: never refused.
   * With a quota, the check and the reservation are one transaction that locks the repository
   * (and the user) row, so concurrent batches on any replica see each other's reservations.
   */
  async offerUploads(
    repo: { id: number; path: string },
    objects: readonly { oid: string; size: number; counted?: boolean }[],
  ): Promise<Map<string, QuotaRefusal>> {
    const refused = new Map<string, QuotaRefusal>();
    if (objects.length === 0) return refused;
    const sorted = [...objects].sort((a, b) => (a.oid < b.oid ? -1 : a.oid > b.oid ? 1 : 0));
    const owner = namespaceOf(repo.path);
    const quotas = await this.db
      .selectFrom('repos')
      .select(['repos.quota_bytes'])
      .select((eb) =>
        eb.selectFrom('users').select('users.quota_bytes').where('users.name', '=', owner).as('user_quota'),
      )
      .where('repos.id', '=', repo.id)
      .executeTakeFirst();
    if (quotas?.quota_bytes == null && quotas?.user_quota == null) {
      await this.recordOffers(this.db, repo.id, sorted);
      return refused;
    }
    await this.write(async (tx) => {
      refused.clear();
      const now = new Date();
      const since = this.ts(new Date(now.getTime() - RESERVATION_TTL_MS));
      const repoRow = await this.locked(
        tx.selectFrom('repos').select(['quota_bytes', 'usage_bytes']).where('id', '=', repo.id),
      ).executeTakeFirst();
      const userRow = await this.locked(
        tx.selectFrom('users').select(['id', 'quota_bytes']).where('name', '=', owner),
      ).executeTakeFirst();
      const oids = sorted.map((o) => o.oid);
      const repoQuota = repoRow?.quota_bytes == null ? null : toNumber(repoRow.quota_bytes);
      const userQuota = userRow?.quota_bytes == null ? null : toNumber(userRow.quota_bytes);
      let repoUsed = 0;
      if (repoQuota !== null) {
        repoUsed =
          toNumber(repoRow?.usage_bytes ?? 0) + (await this.reserved(tx, [repo.id], since, repo.id, oids));
      }
      let userUsed = 0;
      if (userQuota !== null) {
        const ids = await tx
          .selectFrom('repos')
          .select(['id', 'usage_bytes'])
          .where((eb) => eb.or([eb('path', '=', owner), eb('path', 'like', likePrefix(owner))]))
          .execute();
        userUsed =
          ids.reduce((sum, r) => sum + toNumber(r.usage_bytes), 0) +
          (await this.reserved(
            tx,
            ids.map((r) => r.id),
            since,
            repo.id,
            oids,
          ));
      }
      const granted: typeof sorted = [];
      for (const object of objects) {
        if (object.counted) {
          granted.push(object);
          continue;
        }
        if (repoQuota !== null && repoUsed + object.size > repoQuota) {
          refused.set(object.oid, {
            scope: 'repository',
            name: repo.path,
            quotaBytes: repoQuota,
            usageBytes: repoUsed,
            askedBytes: object.size,
          });
          continue;
        }
        if (userQuota !== null && userUsed + object.size > userQuota) {
          refused.set(object.oid, {
            scope: 'user',
            name: owner,
            quotaBytes: userQuota,
            usageBytes: userUsed,
            askedBytes: object.size,
          });
          continue;
        }
        repoUsed += object.size;
        userUsed += object.size;
        granted.push(object);
      }
      granted.sort((a, b) => (a.oid < b.oid ? -1 : a.oid > b.oid ? 1 : 0));
      await this.recordOffers(tx, repo.id, granted);
    });
    return refused;
  }

  /** bytes offered to `repoIds` since `since` and not linked, except this batch's own offers */
  private async reserved(
    tx: Kysely<Database>,
    repoIds: readonly number[],
    since: Date | string,
    batchRepoId: number,
    batchOids: readonly string[],
  ): Promise<number> {
    if (repoIds.length === 0) return 0;
    const [row] = await tx
      .selectFrom('upload_offers')
      .select((eb) => eb.fn.coalesce(eb.fn.sum<number | string>('size'), sql<number>`0`).as('bytes'))
      .where('repo_id', 'in', repoIds)
      .where('offered_at', '>=', since)
      .execute();
    let bytes = toNumber(row?.bytes ?? 0);
    for (let start = 0; start < batchOids.length; start += OIDS_PER_QUERY) {
      const own = await tx
        .selectFrom('upload_offers')
        .select('size')
        .where('repo_id', '=', batchRepoId)
        .where('oid', 'in', batchOids.slice(start, start + OIDS_PER_QUERY))
        .where('offered_at', '>=', since)
        .execute();
      for (const r of own) bytes -= toNumber(r.size);
    }
    return bytes;
  }

  private async recordOffers(
    db: Kysely<Database>,
    repoId: number,
    objects: readonly { oid: string; size: number }[],
  ): Promise<void> {
    const now = this.ts(new Date());
    for (let start = 0; start < objects.length; start += OIDS_PER_QUERY) {
      const rows = objects
        .slice(start, start + OIDS_PER_QUERY)
        .map((o) => ({ repo_id: repoId, oid: o.oid, size: o.size, offered_at: now }));
      const insert = db.insertInto('upload_offers').values(rows);
      await (
        this.dialect === 'mysql'
          ? insert.onDuplicateKeyUpdate({ offered_at: now })
          : insert.onConflict((c) => c.columns(['repo_id', 'oid']).doUpdateSet({ offered_at: now }))
      ).execute();
    }
  }

  async setRepoQuota(repoId: number, bytes: number | null): Promise<void> {
    await this.db.updateTable('repos').set({ quota_bytes: bytes }).where('id', '=', repoId).execute();
  }

  async setUserQuota(userId: number, bytes: number | null): Promise<void> {
    await this.db.updateTable('users').set({ quota_bytes: bytes }).where('id', '=', userId).execute();
  }

  async listQuotas(): Promise<QuotaRecord[]> {
    const repos = await this.db
      .selectFrom('repos')
      .select(['path', 'quota_bytes', 'usage_bytes'])
      .where('quota_bytes', 'is not', null)
      .orderBy('path')
      .execute();
    const users = await this.db
      .selectFrom('users')
      .select(['name', 'quota_bytes'])
      .where('quota_bytes', 'is not', null)
      .orderBy('name')
      .execute();
    const records: QuotaRecord[] = repos.map((r) => ({
      kind: 'repo',
      name: r.path,
      quotaBytes: toNumber(r.quota_bytes ?? 0),
      usageBytes: toNumber(r.usage_bytes),
    }));
    for (const u of users) {
      const usage = await this.usage({ namespace: u.name });
      records.push({
        kind: 'user',
        name: u.name,
        quotaBytes: toNumber(u.quota_bytes ?? 0),
        usageBytes: usage.repos.reduce((sum, r) => sum + r.bytes, 0),
      });
    }
    return records;
  }

  /** Usage of one repository, one namespace (a user's), or all. */
  async usage(filter: { repoId?: number; namespace?: string }): Promise<UsageReport> {
    let select = this.db
      .selectFrom('repos')
      .select(['id', 'path', 'usage_objects', 'usage_bytes', 'quota_bytes'])
      .orderBy('path');
    if (filter.repoId !== undefined) select = select.where('id', '=', filter.repoId);
    const namespace = filter.namespace;
    if (namespace !== undefined) {
      select = select.where((eb) =>
        eb.or([eb('path', '=', namespace), eb('path', 'like', likePrefix(namespace))]),
      );
    }
    const rows = await select.execute();
    const repos = rows.map((r) => ({
      repoId: toNumber(r.id),
      path: r.path,
      objects: toNumber(r.usage_objects),
      bytes: toNumber(r.usage_bytes),
      quotaBytes: r.quota_bytes == null ? null : toNumber(r.quota_bytes),
    }));
    const filtered = filter.repoId !== undefined || namespace !== undefined;
    const repoIds = repos.length ? repos.map((r) => r.repoId) : [-1];
    const [total] = await this.db
      .selectFrom('objects')
      .select((eb) => [
        eb.fn.countAll<number | string>().as('objects'),
        eb.fn.coalesce(eb.fn.sum<number | string>('size'), sql<number>`0`).as('bytes'),
      ])
      .where((eb) => {
        let linked = eb
          .selectFrom('repo_objects')
          .select('repo_objects.oid')
          .whereRef('repo_objects.oid', '=', 'objects.oid');
        if (filtered) linked = linked.where('repo_objects.repo_id', 'in', repoIds);
        return eb.exists(linked);
      })
      .execute();
    return {
      repos,
      total: { objects: toNumber(total?.objects ?? 0), bytes: toNumber(total?.bytes ?? 0) },
    };
  }

  // ---- garbage collection

  /**
   * Of these stored objects, those gc may mark: no repository links them, and they were neither
   * linked, unlinked nor offered for upload since `cutoff`.
   */
  async candidates(
    stored: readonly { oid: string; size: number }[],
    cutoff: Date,
  ): Promise<{ oid: string; size: number }[]> {
    const result: { oid: string; size: number }[] = [];
    for (let start = 0; start < stored.length; start += OIDS_PER_QUERY) {
      const chunk = stored.slice(start, start + OIDS_PER_QUERY);
      const oids = chunk.map((o) => o.oid);
      const held = new Set<string>();
      const linked = await this.db
        .selectFrom('repo_objects')
        .select('oid')
        .distinct()
        .where('oid', 'in', oids)
        .execute();
      for (const r of linked) held.add(r.oid);
      const recent = await this.db
        .selectFrom('objects')
        .select('oid')
        .where('oid', 'in', oids)
        .where('held_at', '>=', this.ts(cutoff))
        .execute();
      for (const r of recent) held.add(r.oid);
      const offered = await this.db
        .selectFrom('upload_offers')
        .select('oid')
        .distinct()
        .where('oid', 'in', oids)
        .where('offered_at', '>=', this.ts(cutoff))
        .execute();
      for (const r of offered) held.add(r.oid);
      for (const object of chunk) if (!held.has(object.oid)) result.push(object);
    }
    return result;
  }

  /** Unlinked object rows after `after` (paging), whatever the store holds. */
  async unlinkedPage(after: string, limit: number): Promise<{ oid: string; size: number }[]> {
    const rows = await this.db
      .selectFrom('objects')
      .select(['oid', 'size'])
      .where('oid', '>', after)
      .where('deleting_at', 'is', null)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('repo_objects')
              .select('repo_objects.oid')
              .whereRef('repo_objects.oid', '=', 'objects.oid'),
          ),
        ),
      )
      .orderBy('oid')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ oid: r.oid, size: toNumber(r.size) }));
  }

  /** Marks candidates (creating the rows of stored content that has none). */
  async mark(objects: readonly { oid: string; size: number }[], now: Date): Promise<void> {
    for (let start = 0; start < objects.length; start += OIDS_PER_QUERY) {
      const chunk = objects.slice(start, start + OIDS_PER_QUERY);
      const rows = chunk.map((o) => ({ oid: o.oid, size: o.size, created_at: this.ts(now) }));
      await skipDuplicate(this.dialect, this.db.insertInto('objects').values(rows), 'oid').execute();
      await this.db
        .updateTable('objects')
        .set({ marked_at: this.ts(now) })
        .where(
          'oid',
          'in',
          chunk.map((o) => o.oid),
        )
        .where('marked_at', 'is', null)
        .where('deleting_at', 'is', null)
        .execute();
    }
  }

  /** Marked objects after `after` (paging). */
  async markedPage(after: string, limit: number): Promise<MarkedRow[]> {
    const rows = await this.db
      .selectFrom('objects')
      .select(['oid', 'size', 'deleting_at'])
      .where('marked_at', 'is not', null)
      .where('oid', '>', after)
      .orderBy('oid')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ oid: r.oid, size: toNumber(r.size), deleting: r.deleting_at != null }));
  }

  /**
   * gc's claim (step 2 of the protocol above), for a page of marked oids: returns those whose
   * content may be deleted now (deleting_at set). Marks that no longer hold are cleared.
   */
  async claim(oids: readonly string[], cutoff: Date): Promise<string[]> {
    if (oids.length === 0) return [];
    const sorted = [...oids].sort();
    return this.write(async (tx) => {
      // lock the rows first, in oid order: a link of any of them waits, or has committed
      const rows = await this.locked(
        tx
          .selectFrom('objects')
          .select(['oid', 'marked_at', 'deleting_at', 'held_at'])
          .where('oid', 'in', sorted)
          .orderBy('oid'),
      ).execute();
      const linked = new Set(
        (
          await tx.selectFrom('repo_objects').select('oid').distinct().where('oid', 'in', sorted).execute()
        ).map((r) => r.oid),
      );
      const offers = await tx
        .selectFrom('upload_offers')
        .select(['oid', 'offered_at'])
        .where('oid', 'in', sorted)
        .execute();
      const lastOffer = new Map<string, Date>();
      for (const o of offers) {
        const at = toDate(o.offered_at);
        const seen = lastOffer.get(o.oid);
        if (!seen || at > seen) lastOffer.set(o.oid, at);
      }
      const claimed: string[] = [];
      const cleared: string[] = [];
      for (const row of rows) {
        if (!row.marked_at) continue;
        if (row.deleting_at) {
          claimed.push(row.oid); // an earlier run's claim: nothing could link it since
          continue;
        }
        const markedAt = toDate(row.marked_at);
        const since = markedAt < cutoff ? markedAt : cutoff;
        const offered = lastOffer.get(row.oid);
        const held =
          linked.has(row.oid) ||
          (offered !== undefined && offered >= since) ||
          (row.held_at != null && toDate(row.held_at) >= cutoff);
        (held ? cleared : claimed).push(row.oid);
      }
      const fresh = claimed.filter((oid) => rows.find((r) => r.oid === oid)?.deleting_at == null);
      if (cleared.length) {
        await tx.updateTable('objects').set({ marked_at: null }).where('oid', 'in', cleared).execute();
      }
      if (fresh.length) {
        await tx
          .updateTable('objects')
          .set({ deleting_at: this.ts(new Date()) })
          .where('oid', 'in', fresh)
          .execute();
      }
      return claimed;
    });
  }

  /** The content of these claimed objects is gone: their rows become tombstones. */
  async finishCollection(oids: readonly string[]): Promise<void> {
    if (oids.length === 0) return;
    await this.db
      .updateTable('objects')
      .set({ marked_at: null, deleting_at: this.ts(new Date()) })
      .where('oid', 'in', oids)
      .where('deleting_at', 'is not', null)
      .execute();
  }

  /** Forgets tombstones older than `before` (no link can be waiting on them); returns how many. */
  async dropTombstones(before: Date): Promise<number> {
    const result = await this.db
      .deleteFrom('objects')
      .where('deleting_at', '<', this.ts(before))
      .where('marked_at', 'is', null)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('repo_objects')
              .select('repo_objects.oid')
              .whereRef('repo_objects.oid', '=', 'objects.oid'),
          ),
        ),
      )
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Deleting the content failed: give the object back (it stays a candidate for the next run). */
  async releaseClaim(oids: readonly string[]): Promise<void> {
    if (oids.length === 0) return;
    await this.db
      .updateTable('objects')
      .set({ deleting_at: null, marked_at: null })
      .where('oid', 'in', oids)
      .execute();
  }

  /** Forgets offers older than `cutoff` (uploads never finished); returns how many. */
  async dropOffers(cutoff: Date): Promise<number> {
    const result = await this.db
      .deleteFrom('upload_offers')
      .where('offered_at', '<', this.ts(cutoff))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  // ---- fsck

  /** Object rows after `after` (paging); only those linked to `repoId` when given. */
  async objectsPage(after: string, limit: number, repoId?: number): Promise<ObjectRow[]> {
    let select = this.db
      .selectFrom('objects')
      .select(['objects.oid', 'objects.size', 'objects.broken_at'])
      .where('objects.oid', '>', after)
      .where('objects.deleting_at', 'is', null)
      .orderBy('objects.oid')
      .limit(limit);
    if (repoId !== undefined) {
      select = select.where((eb) =>
        eb.exists(
          eb
            .selectFrom('repo_objects')
            .select('repo_objects.oid')
            .whereRef('repo_objects.oid', '=', 'objects.oid')
            .where('repo_objects.repo_id', '=', repoId),
        ),
      );
    }
    const rows = await select.execute();
    return rows.map((r) => ({ oid: r.oid, size: toNumber(r.size), broken: r.broken_at != null }));
  }

  /** Paths of the repositories that link `oid`. */
  async linkingRepos(oid: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('repo_objects')
      .innerJoin('repos', 'repos.id', 'repo_objects.repo_id')
      .select('repos.path')
      .where('repo_objects.oid', '=', oid)
      .orderBy('repos.path')
      .execute();
    return rows.map((r) => r.path);
  }

  /** fsck --repair: the content is missing or was quarantined; downloads 404, uploads ask again. */
  async markBroken(oid: string): Promise<void> {
    await this.db
      .updateTable('objects')
      .set({ broken_at: this.ts(new Date()) })
      .where('oid', '=', oid)
      .execute();
  }
}

/** `name/%` for LIKE, with LIKE's wildcards in the name escaped (`escape '!'` in every dialect) */
function likePrefix(name: string) {
  return sql<string>`${name.replace(/[!%_]/g, '!$&') + '/%'} escape '!'`;
}

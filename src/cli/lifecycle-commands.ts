/**
 * Storage lifecycle commands (issue 14, README "Storage lifecycle"): usage, quota, repo delete,
 * repo prune, gc, fsck. Each also prints JSON with --json. The rules live in src/lifecycle/.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import { Command } from 'commander';
import { OPERATOR } from '../admin/actor.js';
import { createAdminServices } from '../admin/admin-services.js';
import { DEFAULT_GRACE_MS, runGc, type GcReport } from '../lifecycle/gc.js';
import { runFsck, type FsckReport } from '../lifecycle/fsck.js';
import { LifecycleService, parseKeepList } from '../lifecycle/lifecycle-service.js';
import { formatSize } from '../lifecycle/sizes.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import { lifecycleMetricsText } from '../observability/metrics.js';
import { openMetadata } from '../server/build-deps.js';
import { TransferGarbage } from '../server/transfer-garbage.js';
import { buildBackend } from '../storage/build-object-store.js';
import type { ObjectStore } from '../storage/object-store.js';
import { adminCommand } from './admin-commands.js';
import { addSettingOptions, settingsFrom } from './settings-options.js';

function service(metadata: MetadataStore): LifecycleService {
  return new LifecycleService(metadata, createAdminServices(metadata));
}

function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/** `12h`, `30m`, `7d`, `0`: a grace period; negative or malformed is an error */
export function parseGrace(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$/.exec(text.trim());
  if (!match) {
    throw new Error(`invalid grace period "${text}": expected 0 or more with a unit, e.g. 24h, 30m, 7d`);
  }
  const unit = { ms: 1, s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7, w: 6.048e8 }[match[2] ?? 's'] as number;
  return Number(match[1]) * unit;
}

export function usageCommand(): Command {
  return adminCommand(
    'usage',
    'objects and bytes per repository (shared content counts in each; the total counts it once)',
    async ({ metadata }, [path], options) => {
      const report = await service(metadata).usage(OPERATOR, {
        path,
        user: options.user as string | undefined,
      });
      if (options.json) return printJson(report);
      for (const r of report.repos) {
        const quota = r.quotaBytes === null ? '' : `\tquota ${formatSize(r.quotaBytes)}`;
        console.log(`${r.path}\t${r.objects} objects\t${formatSize(r.bytes)}${quota}`);
      }
      console.log(`total (stored once)\t${report.total.objects} objects\t${formatSize(report.total.bytes)}`);
    },
  )
    .argument('[path]', 'one repository')
    .option('--user <name>', "sum a user's namespace")
    .option('--json', 'print JSON');
}

export function quotaCommand(): Command {
  return new Command('quota')
    .description('storage quotas of repositories and of users (their namespace)')
    .addCommand(
      adminCommand(
        'set',
        'set a quota: 10GiB, 500MB, ... or none',
        async ({ metadata }, [target, size], options) => {
          const set = await service(metadata).setQuota(OPERATOR, target as string, size as string);
          if (options.json) return printJson(set);
          const what = set.kind === 'user' ? `user ${set.name}` : `repository ${set.name}`;
          console.error(
            set.quotaBytes === null ? `${what}: no quota` : `${what}: quota ${formatSize(set.quotaBytes)}`,
          );
        },
      )
        .argument('<target>', 'repository path or user name')
        .argument('<size>', 'e.g. 10GiB, 500MB, none')
        .option('--json', 'print JSON'),
    )
    .addCommand(
      adminCommand('list', 'list quotas with their usage', async ({ metadata }, _args, options) => {
        const quotas = await service(metadata).listQuotas(OPERATOR);
        if (options.json) return printJson(quotas);
        for (const q of quotas) {
          console.log(`${q.kind}\t${q.name}\t${formatSize(q.usageBytes)} of ${formatSize(q.quotaBytes)}`);
        }
      }).option('--json', 'print JSON'),
    );
}

/** `repo delete` and `repo prune`, added to the `repo` command */
export function addRepoLifecycleCommands(repo: Command): Command {
  return repo
    .addCommand(
      adminCommand(
        'delete',
        'delete a repository with its grants, locks and object links (content stays until gc)',
        async ({ metadata }, [path], options) => {
          if (!options.yes && !(await confirm(path as string))) {
            throw new Error(`not deleting ${path}: confirm with --yes`);
          }
          const deleted = await service(metadata).deleteRepo(OPERATOR, path as string);
          if (options.json) {
            return printJson({ repo: deleted.repo.path, objects: deleted.objects, bytes: deleted.bytes });
          }
          console.error(
            `deleted repository ${deleted.repo.path}: ${deleted.objects} objects (${formatSize(deleted.bytes)}) unlinked`,
          );
        },
      )
        .argument('<path>')
        .option('--yes', 'do not ask')
        .option('--json', 'print JSON'),
    )
    .addCommand(
      adminCommand(
        'prune',
        'unlink every object of a repository that the keep list does not name',
        async ({ metadata }, [path], options) => {
          const file = options.keep as string;
          const text = file === '-' ? await readAll(process.stdin) : await readFile(file, 'utf8');
          const report = await service(metadata).prune(OPERATOR, path as string, parseKeepList(text), {
            dryRun: Boolean(options.dryRun),
          });
          if (options.json) return printJson(report);
          if (report.dryRun) for (const o of report.unlinked) console.log(o.oid);
          console.error(
            `${report.dryRun ? 'would unlink' : 'unlinked'} ${report.unlinked.length} objects ` +
              `(${formatSize(report.bytes)}) from ${report.repo}; ${report.kept} oids kept`,
          );
        },
      )
        .argument('<path>')
        .requiredOption(
          '--keep <file>',
          'git lfs ls-files --all --long output, or one oid per line; - for stdin',
        )
        .option('--dry-run', 'list what would be unlinked, change nothing')
        .option('--json', 'print JSON'),
    );
}

async function confirm(path: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`Delete repository ${path}? Type its path to confirm: `);
    return answer.trim() === path;
  } finally {
    rl.close();
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** A command that opens the metadata and the storage backend a running `serve` uses. */
function storageCommand(
  name: string,
  description: string,
  action: (
    deps: { metadata: MetadataStore; store: ObjectStore },
    args: string[],
    options: Record<string, unknown>,
  ) => Promise<void>,
): Command {
  const command = new Command(name).description(description);
  addSettingOptions(command);
  command.action(async (...received: unknown[]) => {
    const cmd = received.at(-1) as Command;
    const options = cmd.opts();
    const settings = settingsFrom(options);
    const metadata = await openMetadata(settings);
    try {
      // fsck reads every object: over S3, the bodies' buffers pace minor collections as in serve
      const garbage = new TransferGarbage();
      const store = await buildBackend(settings, (bytes) => garbage.drop(bytes));
      try {
        await action({ metadata, store }, cmd.args, options);
      } finally {
        await store.close();
      }
    } finally {
      await metadata.close();
    }
  });
  return command;
}

async function writeMetricsFile(path: string | undefined, text: string): Promise<void> {
  if (!path) return;
  // atomically, as node_exporter's textfile collector expects
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
}

export function gcCommand(): Command {
  return storageCommand(
    'gc',
    'delete content no repository links and nobody linked or offered within the grace period; safe while serving',
    async ({ metadata, store }, _args, options) => {
      const graceMs = options.grace === undefined ? DEFAULT_GRACE_MS : parseGrace(options.grace as string);
      const report = await runGc(metadata, store, {
        graceMs,
        dryRun: Boolean(options.dryRun),
        onObject: options.dryRun && !options.json ? (o) => console.log(`${o.oid}\t${o.size}`) : undefined,
      });
      await writeMetricsFile(options.metricsFile as string | undefined, gcMetrics(report));
      if (options.json) return printJson(report);
      console.error(
        `${report.dryRun ? 'would delete' : 'deleted'} ${report.deleted.objects} objects (${formatSize(report.deleted.bytes)})` +
          (report.dryRun
            ? ''
            : `; ${report.rescued} kept (linked or offered meanwhile), ${report.staging.count} staged uploads, ` +
              `${report.multipartUploads} incomplete multipart uploads, ${report.tempFiles} temp files removed` +
              (report.failed ? `; ${report.failed} failed (kept for the next run)` : '')) +
          ` in ${report.seconds.toFixed(1)} s`,
      );
      if (report.failed) process.exitCode = 1;
    },
  )
    .option('--dry-run', 'list what would be deleted, change nothing')
    .option('--grace <duration>', 'keep what was linked, unlinked or offered this recently (default 24h)')
    .option('--metrics-file <path>', 'write lfsd_gc_* metrics as a Prometheus textfile')
    .option('--json', 'print JSON');
}

function gcMetrics(r: GcReport): string {
  return lifecycleMetricsText('gc', {
    deleted_objects: { help: 'Objects whose content the last gc deleted', value: r.deleted.objects },
    deleted_bytes: { help: 'Bytes of content the last gc deleted', value: r.deleted.bytes },
    rescued_objects: {
      help: 'Candidates linked or offered again before the last gc claimed them',
      value: r.rescued,
    },
    failed_objects: { help: 'Objects the last gc failed to delete', value: r.failed },
    duration_seconds: { help: 'Duration of the last gc', value: r.seconds },
    last_run_timestamp_seconds: { help: 'When the last gc finished', value: Math.floor(Date.now() / 1000) },
  });
}

export function fsckCommand(): Command {
  return storageCommand(
    'fsck',
    're-read stored content and check size and SHA-256, and that every link has content; exit 1 on problems',
    async ({ metadata, store }, [path], options) => {
      const repoId =
        path === undefined ? undefined : (await service(metadata).usage(OPERATOR, { path })).repos[0]?.repoId;
      const tty = process.stderr.isTTY && !options.json;
      let last = 0;
      const report = await runFsck(metadata, store, {
        repoId,
        repair: Boolean(options.repair),
        onProgress: tty
          ? (p) => {
              const now = Date.now();
              if (now - last < 200) return;
              last = now;
              process.stderr.write(`\rfsck: ${p.objects} objects, ${formatSize(p.bytes)} checked   `);
            }
          : undefined,
      });
      if (tty) process.stderr.write('\r\x1b[K');
      await writeMetricsFile(options.metricsFile as string | undefined, fsckMetrics(report));
      if (options.json) printJson(report);
      else {
        for (const p of report.problems) {
          console.log(
            [
              p.oid,
              p.problem,
              p.repos.join(',') || '-',
              p.repaired ? `repaired${p.quarantined ? ` (moved to ${p.quarantined})` : ''}` : '',
            ]
              .join('\t')
              .trimEnd(),
          );
        }
        console.error(
          `checked ${report.checked.objects} objects (${formatSize(report.checked.bytes)}) in ${report.seconds.toFixed(1)} s: ` +
            `${report.problems.length} missing or corrupt${options.repair ? `, ${report.repaired} repaired` : ''}`,
        );
      }
      if (report.problems.length > 0) process.exitCode = 1;
    },
  )
    .argument('[path]', 'only the objects this repository links')
    .option(
      '--repair',
      'quarantine corrupt content and mark missing or corrupt objects broken (a re-push heals)',
    )
    .option('--metrics-file <path>', 'write lfsd_fsck_* metrics as a Prometheus textfile')
    .option('--json', 'print JSON');
}

function fsckMetrics(r: FsckReport): string {
  return lifecycleMetricsText('fsck', {
    checked_objects: { help: 'Objects the last fsck checked', value: r.checked.objects },
    checked_bytes: { help: 'Bytes the last fsck read and hashed', value: r.checked.bytes },
    problem_objects: { help: 'Missing or corrupt objects the last fsck found', value: r.problems.length },
    repaired_objects: { help: 'Objects the last fsck repaired', value: r.repaired },
    duration_seconds: { help: 'Duration of the last fsck', value: r.seconds },
    last_run_timestamp_seconds: { help: 'When the last fsck finished', value: Math.floor(Date.now() / 1000) },
  });
}

/** The benchmark's result: rows of (figure, lfsd, baseline, ratio, target), printed and written out. */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { nginxVersion } from '../../test/helpers/nginx.js';
import type { Summary } from './stats.js';

export interface Row {
  figure: string;
  measure: string;
  unit: string;
  better: 'higher' | 'lower';
  lfsd: Summary;
  baseline?: { label: string; summary: Summary };
  /** median lfsd / median baseline */
  ratio?: number;
  target?: { text: string; met: boolean };
}

export interface Report {
  mode: 'full' | 'quick';
  date: string;
  machine: Record<string, string | number>;
  rows: Row[];
  notes: string[];
  elapsedSeconds?: number;
}

export function machineInfo(): Record<string, string | number> {
  const cpus = os.cpus();
  const version = (cmd: string, args: string[]) => {
    try {
      return (
        execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
          .trim()
          .split('\n')[0] ?? ''
      );
    } catch {
      return 'not installed';
    }
  };
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    nginx: nginxVersion(),
    git: version('git', ['--version']),
    gitLfs: version('git', ['lfs', 'version']),
    tmpdir: os.tmpdir(),
  };
}

export function addRow(report: Report, row: Omit<Row, 'ratio'>): Row {
  const full: Row = { ...row };
  if (row.baseline && row.baseline.summary.median > 0)
    full.ratio = row.lfsd.median / row.baseline.summary.median;
  report.rows.push(full);
  return full;
}

function num(value: number, unit: string): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (unit === 's') return value.toFixed(2);
  if (unit === 'ms') return value < 10 ? value.toFixed(2) : value.toFixed(1);
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(1);
}

function cell(summary: Summary, unit: string): string {
  return `${num(summary.median, unit)} [${num(summary.min, unit)}–${num(summary.max, unit)}]`;
}

function columns(row: Row): string[] {
  return [
    row.figure,
    `${row.measure} (${row.unit}, ${row.better} is better)`,
    cell(row.lfsd, row.unit),
    row.baseline ? `${cell(row.baseline.summary, row.unit)} ${row.baseline.label}` : '—',
    row.ratio === undefined ? '—' : row.ratio.toFixed(2),
    row.target ? `${row.target.met ? 'met' : 'MISSED'}: ${row.target.text}` : '',
  ];
}

const HEADER = ['#', 'measure', 'lfsd: median [min–max]', 'baseline: median [min–max]', 'ratio', 'target'];

export function toMarkdown(report: Report): string {
  const lines = [
    `# lfsd benchmark (${report.mode} mode)`,
    '',
    `${report.date} · ${Object.entries(report.machine)
      .map(([k, v]) => `${k}: ${v}`)
      .join(' · ')}`,
    '',
    `| ${HEADER.join(' | ')} |`,
    `|${HEADER.map(() => '---').join('|')}|`,
    ...report.rows.map((row) => `| ${columns(row).join(' | ')} |`),
    '',
    ...report.notes.map((note) => `- ${note}`),
  ];
  if (report.elapsedSeconds !== undefined)
    lines.push('', `Benchmark wall time: ${report.elapsedSeconds.toFixed(0)} s.`);
  return lines.join('\n') + '\n';
}

export function toText(report: Report): string {
  const table = [HEADER, ...report.rows.map(columns)];
  const widths = HEADER.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  return [
    line(HEADER),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...report.rows.map((r) => line(columns(r))),
  ].join('\n');
}

export async function writeReport(report: Report, dir: string): Promise<{ json: string; markdown: string }> {
  await mkdir(dir, { recursive: true });
  const stamp = report.date.replace(/[:.]/g, '-');
  const base = join(dir, `${stamp}-${report.mode}`);
  const json = `${base}.json`;
  const markdown = `${base}.md`;
  await writeFile(json, JSON.stringify(report, null, 2) + '\n');
  await writeFile(markdown, toMarkdown(report));
  await writeFile(join(dir, `latest-${report.mode}.md`), toMarkdown(report));
  return { json, markdown };
}

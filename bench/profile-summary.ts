/**
 * Summarizes a `.cpuprofile` written by `node --cpu-prof` (e.g. from `npm run bench -- --cpu-prof
 * DIR`): self time by function and by package or file, and inclusive time of the functions that
 * matter most. Usage: node dist/bench/profile-summary.js FILE.cpuprofile [top=25]
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

function where(url: string): string {
  if (!url) return '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith('node:')) return url;
  const local = /\/(src|bench|test)\/(.*)$/.exec(url);
  return local ? `${local[1]}/${local[2]}` : url;
}

function main() {
  const [file, topArg] = process.argv.slice(2);
  if (!file) throw new Error('usage: profile-summary FILE.cpuprofile [top]');
  const top = Number(topArg ?? 25);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  });
  const label = (n: Node) =>
    `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
  const selfByFn = new Map<string, number>();
  const selfByWhere = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, time] of self) {
    const node = byId.get(id)!;
    selfByFn.set(label(node), (selfByFn.get(label(node)) ?? 0) + time);
    const w = node.callFrame.functionName.startsWith('(')
      ? node.callFrame.functionName
      : where(node.callFrame.url);
    selfByWhere.set(w, (selfByWhere.get(w) ?? 0) + time);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur)!);
      if (seen.has(l)) continue;
      seen.add(l);
      inclusive.set(l, (inclusive.get(l) ?? 0) + time);
    }
  }
  const print = (title: string, map: Map<string, number>) => {
    console.log(`\n${title}`);
    for (const [name, time] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(
        `${((time / total) * 100).toFixed(1).padStart(6)}%  ${(time / 1000).toFixed(0).padStart(7)} ms  ${name}`,
      );
    }
  };
  console.log(`total sampled: ${(total / 1e6).toFixed(2)} s`);
  print('self time by package / file', selfByWhere);
  print('self time by function', selfByFn);
  print('inclusive time by function', inclusive);
}

main();

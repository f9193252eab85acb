import * as fs from 'node:fs';
import * as path from 'node:path';

/** The parts of a V8 `.cpuprofile` (written by `node --cpu-prof`) a summary needs. */
interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface FrameCost {
  /** `function (file:line)`, with paths shortened to the project or the package. */
  readonly frame: string;
  /** Share of all sampled time spent in the frame itself. */
  readonly selfPercent: number;
  /** Share of all sampled time spent in the frame or anything it called. */
  readonly totalPercent: number;
}

function shortUrl(url: string): string {
  if (url === '') return '';
  const file = url.replace(/^file:\/\//, '');
  const inModules = file.lastIndexOf('node_modules/');
  if (inModules >= 0) return file.slice(inModules + 'node_modules/'.length);
  const cwd = process.cwd() + path.sep;
  return file.startsWith(cwd) ? file.slice(cwd.length) : file;
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName || '(anonymous)';
  const where = shortUrl(url);
  return where ? `${name} (${where}:${lineNumber + 1})` : name;
}

/** Self and inclusive time per frame, heaviest self time first; idle and GC are reported like any frame. */
export function summarizeProfile(file: string, top = 15): FrameCost[] {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + delta);
    total += delta;
  });
  const selfByLabel = new Map<string, number>();
  const totalByLabel = new Map<string, number>();
  for (const [id, time] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const name = label(node);
    selfByLabel.set(name, (selfByLabel.get(name) ?? 0) + time);
    // Inclusive time: every distinct frame on the stack gets the sample once (recursion counted once).
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at);
      if (!frame) break;
      const frameLabel = label(frame);
      if (seen.has(frameLabel)) continue;
      seen.add(frameLabel);
      totalByLabel.set(frameLabel, (totalByLabel.get(frameLabel) ?? 0) + time);
    }
  }
  const percent = (time: number) => Math.round((time / Math.max(1, total)) * 1000) / 10;
  return [...selfByLabel.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([frame, time]) => ({
      frame,
      selfPercent: percent(time),
      totalPercent: percent(totalByLabel.get(frame) ?? time),
    }));
}

/** Inclusive time of the frames whose label contains one of `needles` (e.g. a function or a package). */
export function inclusiveShare(file: string, needles: readonly string[]): Record<string, number> {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const hits = new Map<string, number>(needles.map((needle) => [needle, 0]));
  let total = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    total += delta;
    const stack: string[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at);
      if (frame) stack.push(label(frame));
    }
    for (const needle of needles) {
      if (stack.some((frame) => frame.includes(needle))) hits.set(needle, (hits.get(needle) ?? 0) + delta);
    }
  });
  return Object.fromEntries(
    [...hits].map(([needle, time]) => [needle, Math.round((time / Math.max(1, total)) * 1000) / 10]),
  );
}

export function formatProfile(frames: readonly FrameCost[]): string {
  return frames
    .map(
      (f) =>
        `${String(f.selfPercent).padStart(5)}% self ${String(f.totalPercent).padStart(5)}% total  ${f.frame}`,
    )
    .join('\n');
}

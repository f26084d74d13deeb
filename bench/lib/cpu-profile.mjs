// Reads a V8 CPU profile (`node --cpu-prof`) and sums the time of its samples inside a span, by
// function (self time) and by file, so a bench can say where a process's CPU went.
import { readFileSync } from 'node:fs';

/** The part of a profile's URL that says whose code it is (package or repository path). */
function shortUrl(url) {
  if (!url) return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const m = /\/(agent|before-agent|protocol|hub)\/dist\/(.*)$/.exec(url);
  if (m) return `${m[1]}/${m[2]}`;
  return url.replace(/^file:\/\//, '');
}

/**
 * Self time (ms) of the samples taken between `fromS` and `toS` seconds after the profile's
 * start, by function and by file; `busyMs` is every sample that was not idle.
 */
export function summarizeProfile(file, fromS, toS) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const fns = new Map();
  const files = new Map();
  // Inclusive time by the agent's own files on the stack: what each part of the agent set off.
  const agentFiles = new Map();
  let t = prof.startTime;
  let busyUs = 0;
  let spanUs = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = prof.timeDeltas[i] ?? 0;
    t += dt;
    const rel = (t - prof.startTime) / 1e6;
    if (rel < fromS || rel > toS) continue;
    spanUs += dt;
    const node = byId.get(prof.samples[i]);
    const cf = node.callFrame;
    if (cf.functionName === '(idle)') continue;
    busyUs += dt;
    const where = shortUrl(cf.url);
    const key = `${cf.functionName || '(anonymous)'} ${where}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
    fns.set(key, (fns.get(key) ?? 0) + dt);
    files.set(where, (files.get(where) ?? 0) + dt);
    const seen = new Set();
    for (let id = node.id; id !== undefined; id = parent.get(id)) {
      const u = shortUrl(byId.get(id).callFrame.url);
      if (/^(agent|before-agent)\//.test(u)) seen.add(u.replace(/^before-agent\//, 'agent/'));
    }
    if (seen.size === 0)
      seen.add(cf.url ? '(outside the agent: node internals, libraries)' : `${cf.functionName}`);
    for (const u of seen) agentFiles.set(u, (agentFiles.get(u) ?? 0) + dt);
  }
  const top = (m, n) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: us / 1000 }));
  return {
    busyMs: busyUs / 1000,
    spanS: spanUs / 1e6,
    functions: top(fns, 15),
    files: top(files, 12),
    inclusive: top(agentFiles, 15),
  };
}

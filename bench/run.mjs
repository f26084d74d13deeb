#!/usr/bin/env node
// Runs every bench/*.bench.mjs (or those whose name contains the filter), one after another so they
// do not compete for the two cores, and tees their Markdown output to bench/results/<name>.md.
// Arguments after the filter go to each benchmark (`node bench/run.mjs soak --minutes 5`).
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2] ?? '';
const passOn = process.argv.slice(3);
const benches = readdirSync(here)
  .filter((f) => f.endsWith('.bench.mjs') && f.includes(filter))
  .sort();
if (benches.length === 0) {
  console.error(
    `no benchmark matches "${filter}" (have: ${readdirSync(here)
      .filter((f) => f.endsWith('.bench.mjs'))
      .join(', ')})`,
  );
  process.exit(1);
}
mkdirSync(join(here, 'results'), { recursive: true });
let failed = 0;
for (const file of benches) {
  const started = Date.now();
  console.log(`\n## ${file} (started ${new Date(started).toISOString()})\n`);
  const out = [];
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, [join(here, file), ...passOn], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout.on('data', (d) => {
      process.stdout.write(d);
      out.push(d);
    });
    child.on('close', resolve);
  });
  writeFileSync(join(here, 'results', file.replace('.bench.mjs', '.md')), Buffer.concat(out));
  console.log(`\n(${file}: exit ${code}, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  if (code !== 0) failed++;
}
process.exit(failed ? 1 : 0);

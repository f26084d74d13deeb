#!/usr/bin/env node
// `npm run release`: installable tarballs of the agent and the hub (docs/operations.md "Install").
//
// Each tarball is an ordinary npm package whose `@classroom/protocol` is bundled
// (`bundleDependencies`), because the protocol package is not published to any registry. Everything
// else stays a normal dependency, resolved from the registry at install time: sqlite3 then gets the
// native build for the target machine. The JavaScript in the tarball is exactly tsc's output for the
// package's own src/ files (no bundler, no stale files from a renamed module), so what ships is what
// the tests ran and can be read file by file.
//
// Usage: node scripts/release.mjs [--out DIR] [--skip-build]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The packages that ship, with the extra directories each needs at run time. */
const PRODUCTS = [
  { dir: 'agent', extra: [] },
  { dir: 'hub', extra: ['web'] },
];
const PROTOCOL = { dir: 'protocol', extra: ['schema', 'asyncapi.json'] };

/** Package fields that describe the installed package; scripts and devDependencies stay behind. */
const KEPT_FIELDS = [
  'name',
  'version',
  'description',
  'type',
  'license',
  'main',
  'types',
  'exports',
  'bin',
  'dependencies',
  'optionalDependencies',
];

function parseArgs(argv) {
  const opts = { out: join(ROOT, 'release'), build: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out' && argv[i + 1]) opts.out = resolve(argv[++i]);
    else if (a === '--skip-build') opts.build = false;
    else if (a === '--help' || a === '-h') {
      console.log('Usage: node scripts/release.mjs [--out DIR] [--skip-build]');
      process.exit(0);
    } else {
      console.error(`release: unknown argument ${a} (try --help)`);
      process.exit(2);
    }
  }
  return opts;
}

const started = Date.now();
function step(msg) {
  const s = ((Date.now() - started) / 1000).toFixed(1).padStart(5);
  process.stderr.write(`[release ${s}s] ${msg}\n`);
}

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

function walk(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

/**
 * Copies the compiled JavaScript of `pkg/src/**.ts` (and the declarations, so the library entry
 * points keep their types) from dist/ into the stage. A source without its output means the build is
 * stale or broken: stop rather than ship a package that fails at the first import.
 */
function copyCompiled(pkgDir, stage) {
  const src = join(pkgDir, 'src');
  let n = 0;
  for (const file of walk(src)) {
    if (!file.endsWith('.ts') || file.endsWith('.d.ts')) continue;
    const rel = relative(src, file).replace(/\.ts$/, '');
    for (const ext of ['.js', '.d.ts']) {
      const from = join(pkgDir, 'dist', rel + ext);
      if (!existsSync(from)) throw new Error(`${relative(ROOT, from)} is missing: run \`npx tsc -b\` first`);
      const to = join(stage, 'dist', rel + ext);
      mkdirSync(dirname(to), { recursive: true });
      cpSync(from, to);
      n++;
    }
  }
  return n;
}

/** Writes one package into `stage`: its package.json, bin/, compiled dist/ and run-time extras. */
function stagePackage({ dir, extra }, stage, edit) {
  const pkgDir = join(ROOT, dir);
  const pkg = readJson(join(pkgDir, 'package.json'));
  const out = {};
  for (const k of KEPT_FIELDS) if (pkg[k] !== undefined) out[k] = pkg[k];
  out.engines = readJson(join(ROOT, 'package.json')).engines;
  out.files = ['dist', ...(pkg.bin ? ['bin'] : []), ...extra];
  edit?.(out);
  mkdirSync(stage, { recursive: true });
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify(out, null, 2)}\n`);
  const files = copyCompiled(pkgDir, stage);
  if (pkg.bin) cpSync(join(pkgDir, 'bin'), join(stage, 'bin'), { recursive: true });
  for (const x of extra) cpSync(join(pkgDir, x), join(stage, x), { recursive: true });
  for (const doc of ['LICENSE', 'README.md']) {
    if (existsSync(join(pkgDir, doc))) cpSync(join(pkgDir, doc), join(stage, doc));
  }
  return { pkg: out, files };
}

function sha256(path) {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.build) {
    step('building (tsc -b)');
    execFileSync(join(ROOT, 'node_modules/.bin/tsc'), ['-b'], { cwd: ROOT, stdio: 'inherit' });
  }
  const work = mkdtempSync(join(tmpdir(), 'classroom-release-'));
  mkdirSync(opts.out, { recursive: true });
  const artifacts = [];
  try {
    for (const product of PRODUCTS) {
      const stage = join(work, product.dir);
      const { pkg, files } = stagePackage(product, stage, (p) => {
        const protocolVersion = readJson(join(ROOT, PROTOCOL.dir, 'package.json')).version;
        if (p.dependencies?.['@classroom/protocol'] !== protocolVersion) {
          throw new Error(
            `${p.name} depends on @classroom/protocol ${p.dependencies?.['@classroom/protocol']}, the workspace has ${protocolVersion}`,
          );
        }
        p.bundleDependencies = ['@classroom/protocol'];
      });
      step(`${pkg.name}@${pkg.version}: staged ${files} compiled files`);
      const bundled = join(stage, 'node_modules', '@classroom', 'protocol');
      // The bundled protocol declares no dependencies of its own. npm counts every dependency (and
      // peer) of a bundled package that lands beside it as part of the bundle, so it would leave
      // node_modules/zod an empty directory rather than fetch it. The protocol's zod is resolved from
      // the product's node_modules instead: the product must depend on the same range (checked
      // here), and the schemas then share the product's zod instance.
      const proto = stagePackage(PROTOCOL, bundled, (p) => {
        for (const [dep, range] of Object.entries(p.dependencies ?? {})) {
          if (pkg.dependencies?.[dep] !== range) {
            throw new Error(
              `${pkg.name} must depend on ${dep} ${range}, as ${p.name} does (it has ${pkg.dependencies?.[dep]})`,
            );
          }
        }
        delete p.dependencies;
      });
      step(
        `${pkg.name}@${pkg.version}: bundled ${proto.pkg.name}@${proto.pkg.version} (${proto.files} compiled files)`,
      );
      step(`${pkg.name}@${pkg.version}: npm pack`);
      const packed = JSON.parse(
        execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', opts.out], {
          cwd: stage,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'inherit'],
        }),
      )[0];
      const file = join(opts.out, packed.filename);
      const bundledInTarball = packed.files.some((f) =>
        f.path.startsWith('node_modules/@classroom/protocol/dist/'),
      );
      if (!bundledInTarball)
        throw new Error(`${packed.filename} does not contain the bundled protocol package`);
      artifacts.push({
        name: pkg.name,
        version: pkg.version,
        file: relative(process.cwd(), file) || file,
        bytes: statSync(file).size,
        unpackedBytes: packed.unpackedSize,
        entries: packed.entryCount,
        sha256: sha256(file),
      });
      step(`${packed.filename}: ${(statSync(file).size / 1024).toFixed(0)} KiB, ${packed.entryCount} files`);
    }
    const sums = artifacts.map((a) => `${a.sha256}  ${a.file.split('/').pop()}`).join('\n');
    writeFileSync(join(opts.out, 'SHA256SUMS'), `${sums}\n`);
    step(`wrote ${relative(process.cwd(), join(opts.out, 'SHA256SUMS')) || 'SHA256SUMS'}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  console.log(JSON.stringify({ artifacts }, null, 2));
}

try {
  main();
} catch (err) {
  console.error(`release: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

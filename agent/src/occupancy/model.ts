import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** Where the installed packages keep what the detector needs; nothing is fetched (docs/occupancy.md "Model"). */
export interface ModelPaths {
  /** @vladmandic/human's `models/` folder (BlazeFace weights ship in the npm package). */
  modelsDir: string;
  /** @tensorflow/tfjs-backend-wasm's `dist/` folder, holding its .wasm binaries. */
  wasmDir: string;
}

/** Paths inside the installed packages; throws with the package name when one is missing. */
export function installedModelPaths(): ModelPaths {
  let human: string;
  let wasm: string;
  try {
    // human's package.json `exports` has no "./" keys, so only its main entry resolves.
    human = dirname(require.resolve('@vladmandic/human'));
  } catch (err) {
    throw new Error(`@vladmandic/human is not installed (${(err as Error).message.split('\n')[0]})`);
  }
  try {
    wasm = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  } catch (err) {
    throw new Error(
      `@tensorflow/tfjs-backend-wasm is not installed (${(err as Error).message.split('\n')[0]})`,
    );
  }
  return { modelsDir: join(human, '..', 'models'), wasmDir: `${join(wasm, 'dist')}/` };
}

/** The path of human's Node build for the WASM backend (not reachable through its `exports`). */
export function humanWasmEntry(): string {
  return join(dirname(require.resolve('@vladmandic/human')), 'human.node-wasm.js');
}

interface WeightGroup {
  paths: string[];
  weights: unknown[];
}

/**
 * A tfjs model loader for `file://` URLs. tfjs-core's own file handler lives in tfjs-node (native,
 * downloads a binary at install), and Node's fetch refuses file URLs; so the model's JSON and its
 * weight shards are read from the installed package here.
 */
export function fileModelLoader(url: string): { load(): Promise<Record<string, unknown>> } | null {
  if (!url.startsWith('file://')) return null;
  const file = decodeURIComponent(url.slice('file://'.length));
  return {
    load: async () => {
      const json = JSON.parse(readFileSync(file, 'utf8')) as {
        modelTopology: unknown;
        format?: string;
        generatedBy?: string;
        convertedBy?: string;
        weightsManifest: WeightGroup[];
      };
      const specs: unknown[] = [];
      const shards: Buffer[] = [];
      for (const g of json.weightsManifest) {
        specs.push(...g.weights);
        for (const p of g.paths) shards.push(readFileSync(join(dirname(file), p)));
      }
      const all = Buffer.concat(shards);
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        weightSpecs: specs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      };
    },
  };
}

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** Where the installed packages keep what the detector needs; nothing is fetched (docs/occupancy.md "Model"). */
export interface ModelPaths {
  /** @vladmandic/human's `models/` folder: BlazeFace's graph and weights ship in the npm package. */
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

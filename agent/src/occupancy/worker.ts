// The detector's thread (docs/occupancy.md "Model"): tfjs on WASM, BlazeFace from human, tiles
// merged by NMS. It owns all the CPU-heavy work, so the agent's event loop never waits on it.
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import jpeg from 'jpeg-js';
import type { CountResult, FromWorker, ToWorker, WorkerInit } from './messages.js';
import { fileModelLoader, humanWasmEntry } from './model.js';
import { mergeDetections, type ScoredBox, tileGrid } from './tiles.js';

const require = createRequire(import.meta.url);

interface Tensor {
  dispose(): void;
}
interface Tf {
  getBackend(): string;
  tensor3d(data: Uint8Array, shape: [number, number, number], dtype: 'int32'): Tensor;
  expandDims(t: Tensor, axis: number): Tensor;
  slice(t: Tensor, begin: number[], size: number[]): Tensor;
  io: { registerLoadRouter(r: (url: string) => unknown): void };
}
interface Face {
  box: [number, number, number, number];
  boxScore: number;
}
interface HumanInstance {
  load(): Promise<void>;
  init(): Promise<void>;
  detect(input: Tensor): Promise<{ face: Face[]; error?: string | null }>;
}

/** Largest face, as a share of a tile's width, that a tile pass counts. */
const MAX_TILE_FACE = 0.2;

const init = workerData as WorkerInit;
const port = parentPort!;
const send = (m: FromWorker): void => port.postMessage(m);

function config(w: WorkerInit): Record<string, unknown> {
  return {
    backend: 'wasm',
    wasmPath: w.wasmDir,
    modelBasePath: `file://${w.modelsDir}/`,
    debug: false,
    async: true,
    warmup: 'none',
    // Every tile is a new picture: human's frame cache would hand back the previous tile's faces.
    cacheSensitivity: 0,
    filter: { enabled: false },
    face: {
      enabled: true,
      detector: {
        rotation: false,
        maxDetected: 200,
        minConfidence: w.minScore,
        iouThreshold: 0.3,
        skipFrames: 0,
        skipTime: 0,
        return: false,
      },
      mesh: { enabled: false },
      attention: { enabled: false },
      iris: { enabled: false },
      description: { enabled: false },
      emotion: { enabled: false },
      antispoof: { enabled: false },
      liveness: { enabled: false },
      gear: { enabled: false },
    },
    body: { enabled: false },
    hand: { enabled: false },
    object: { enabled: false },
    gesture: { enabled: false },
    segmentation: { enabled: false },
  };
}

async function start(): Promise<{ human: HumanInstance; tf: Tf }> {
  const tf = require('@tensorflow/tfjs-core') as Tf;
  const wasm = require('@tensorflow/tfjs-backend-wasm') as { setWasmPaths(p: string): void };
  tf.io.registerLoadRouter(fileModelLoader);
  wasm.setWasmPaths(init.wasmDir);
  const { Human } = require(humanWasmEntry()) as { Human: new (c: unknown) => HumanInstance };
  const human = new Human(config(init));
  await human.init();
  await human.load();
  return { human, tf };
}

async function count(human: HumanInstance, tf: Tf, data: Uint8Array): Promise<CountResult> {
  const t0 = performance.now();
  // A decoded 1920×1080 RGB frame is 6 MB; the bounds refuse a corrupt header's huge size.
  const img = jpeg.decode(data, {
    useTArray: true,
    formatAsRGBA: false,
    maxResolutionInMP: 9,
    maxMemoryUsageInMB: 64,
  });
  const frame = tf.tensor3d(img.data, [img.height, img.width, 3], 'int32');
  const batch = tf.expandDims(frame, 0);
  const found: ScoredBox[] = [];
  try {
    for (const tile of tileGrid(img.width, img.height, init.tile)) {
      const part = tf.slice(batch, [0, tile.y, tile.x, 0], [1, tile.h, tile.w, 3]);
      try {
        const r = await human.detect(part);
        if (r.error) throw new Error(r.error);
        if (process.env.OCC_DEBUG)
          console.log(
            JSON.stringify(tile),
            JSON.stringify(r.face.map((f) => [f.box.map(Math.round), f.boxScore.toFixed(2)])),
          );
        const whole = tile.w === img.width && tile.h === img.height;
        for (const f of r.face) {
          const [x, y, w, h] = f.box;
          // Each pass keeps its own size band (docs/occupancy.md "Tiling"): in a tile, a face
          // larger than a fifth of it is the whole-frame pass's, and what BlazeFace finds there
          // is mostly part of a face, hair or a patterned shirt (measured on the shipped photos).
          if (!whole && w > tile.w * MAX_TILE_FACE) continue;
          found.push({ x: x + tile.x, y: y + tile.y, w, h, score: f.boxScore });
        }
      } finally {
        part.dispose();
      }
    }
  } finally {
    batch.dispose();
    frame.dispose();
  }
  const boxes = mergeDetections(found).map((b) => ({
    x: Math.round(b.x),
    y: Math.round(b.y),
    w: Math.round(b.w),
    h: Math.round(b.h),
    score: Math.round(b.score * 100) / 100,
  }));
  return {
    people: boxes.length,
    boxes,
    ms: Math.round(performance.now() - t0),
    width: img.width,
    height: img.height,
  };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  let human: HumanInstance;
  let tf: Tf;
  try {
    ({ human, tf } = await start());
  } catch (err) {
    send({
      type: 'fatal',
      error: `detector init failed on the wasm backend (binaries looked for in ${init.wasmDir}): ${(err as Error).message}`,
    });
    return;
  }
  // tfjs falls back to its CPU backend, ~35× slower, when the WASM binary cannot be loaded (a
  // wrong wasmPath): that must be an error, never a silent slowdown (docs/occupancy.md "Model").
  const backend = tf.getBackend();
  if (backend !== 'wasm') {
    send({
      type: 'fatal',
      error: `tfjs backend is "${backend}", not "wasm" (wasm binaries looked for in ${init.wasmDir})`,
    });
    return;
  }
  send({ type: 'ready', backend, initMs: Math.round(performance.now() - t0) });
  // One frame at a time: the main thread never sends a second before the first is answered.
  port.on('message', (m: ToWorker) => {
    count(human, tf, m.jpeg).then(
      (r) => send({ type: 'result', id: m.id, ...r }),
      (err: unknown) => send({ type: 'error', id: m.id, error: (err as Error).message }),
    );
  });
}

void main();

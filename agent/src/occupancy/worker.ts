// The detector's thread (docs/occupancy.md "Model"): BlazeFace's graph on tfjs-wasm, called
// directly, at two scales, merged by NMS. It owns all the CPU-heavy work, so the agent's event
// loop never waits on it.
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import jpeg from 'jpeg-js';
import { parsePpm, type RgbPicture } from '../media/ppm.js';
import { blazeFaceArtifacts, decodeHeads, HEADS } from './blazeface.js';
import type { CountResult, FromWorker, ToWorker, WorkerInit } from './messages.js';
import { countPasses, mergeDetections, type Pass, type ScoredBox } from './scales.js';

const require = createRequire(import.meta.url);

interface Tensor {
  shape: number[];
  data(): Promise<Float32Array | Int32Array | Uint8Array>;
  dispose(): void;
}
interface Tf {
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  getBackend(): string;
  env(): { getAsync(flag: string): Promise<unknown> };
  tidy<T extends Tensor>(fn: () => T): T;
  tensor4d(data: Uint8Array, shape: [number, number, number, number], dtype: 'int32'): Tensor;
  cast(t: Tensor, dtype: 'float32'): Tensor;
  mul(a: Tensor, b: number): Tensor;
  sub(a: Tensor, b: number): Tensor;
  pad(t: Tensor, p: [number, number][]): Tensor;
  image: { resizeBilinear(t: Tensor, size: [number, number]): Tensor };
  io: { fromMemory(artifacts: Record<string, unknown>): unknown };
}
interface GraphModel {
  execute(input: Tensor, outputs: string[]): Tensor[];
}

const init = workerData as WorkerInit;
const port = parentPort!;
const send = (m: FromWorker): void => port.postMessage(m);

async function start(): Promise<{ tf: Tf; model: GraphModel }> {
  const tf = require('@tensorflow/tfjs-core') as Tf;
  const wasm = require('@tensorflow/tfjs-backend-wasm') as { setWasmPaths(p: string): void };
  const converter = require('@tensorflow/tfjs-converter') as {
    loadGraphModel(handler: unknown): Promise<GraphModel>;
  };
  wasm.setWasmPaths(init.wasmDir);
  // setBackend resolves false (it does not throw) when the WASM binary cannot be instantiated.
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not initialise');
  await tf.ready();
  const model = await converter.loadGraphModel(tf.io.fromMemory(blazeFaceArtifacts(init.modelsDir)));
  return { tf, model };
}

function decodePicture(data: Uint8Array): RgbPicture {
  if (data[0] === 0x50) return parsePpm(data);
  // A decoded 1920×1080 RGB frame is 6 MB; the bounds refuse a corrupt header's huge size.
  const img = jpeg.decode(data, {
    useTArray: true,
    formatAsRGBA: false,
    maxResolutionInMP: 9,
    maxMemoryUsageInMB: 64,
  });
  return { width: img.width, height: img.height, data: img.data };
}

/** One BlazeFace pass: the picture scaled, mapped to [-1, 1] as trained, padded to the grid. */
async function runPass(tf: Tf, model: GraphModel, frame: Tensor, p: Pass): Promise<ScoredBox[]> {
  const [, h = 0, w = 0] = frame.shape;
  const input = tf.tidy(() => {
    const scaled =
      p.width === w && p.height === h
        ? tf.cast(frame, 'float32')
        : tf.image.resizeBilinear(frame, [p.height, p.width]);
    const unit = tf.sub(tf.mul(scaled, 1 / 127.5), 1);
    return tf.pad(unit, [
      [0, 0],
      [0, p.padHeight - p.height],
      [0, p.padWidth - p.width],
      [0, 0],
    ]);
  });
  let heads: Tensor[] = [];
  try {
    heads = model.execute(input, HEADS);
    const data = await Promise.all(heads.map((t) => t.data()));
    const found = decodeHeads(
      heads.map((t, i) => ({ data: data[i]!, shape: t.shape })),
      init.minScore,
    );
    const out: ScoredBox[] = [];
    for (const b of found) {
      // Boxes of the padding's edge may reach past the picture: they are clipped to it.
      const x = Math.max(0, b.x / p.scale);
      const y = Math.max(0, b.y / p.scale);
      const fw = Math.min(w, b.x / p.scale + b.w / p.scale) - x;
      const fh = Math.min(h, b.y / p.scale + b.h / p.scale) - y;
      const size = b.w / p.scale;
      if (fw <= 0 || fh <= 0 || size < p.minFace || size > p.maxFace) continue;
      if (size > p.firmFace && b.score < p.firmScore) continue;
      out.push({ x, y, w: fw, h: fh, score: b.score });
    }
    return out;
  } finally {
    input.dispose();
    for (const t of heads) t.dispose();
  }
}

async function count(tf: Tf, model: GraphModel, data: Uint8Array): Promise<CountResult> {
  const t0 = performance.now();
  const pic = decodePicture(data);
  const frame = tf.tensor4d(pic.data, [1, pic.height, pic.width, 3], 'int32');
  const found: ScoredBox[] = [];
  try {
    for (const p of countPasses(pic.width, pic.height)) found.push(...(await runPass(tf, model, frame, p)));
  } finally {
    frame.dispose();
  }
  if (process.env.OCC_DEBUG)
    console.log(JSON.stringify(found.map((b) => [b.x, b.y, b.w, b.score].map(Math.round))));
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
    width: pic.width,
    height: pic.height,
  };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  let tf: Tf;
  let model: GraphModel;
  try {
    ({ tf, model } = await start());
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
  // The backend picks its SIMD binary when the runtime validates a SIMD module (tfjs-backend-wasm
  // "WASM_HAS_SIMD_SUPPORT"); under Node it never picks the threaded one.
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  send({ type: 'ready', backend, simd, initMs: Math.round(performance.now() - t0) });
  // One frame at a time: the main thread never sends a second before the first is answered.
  port.on('message', (m: ToWorker) => {
    count(tf, model, m.picture).then(
      (r) => send({ type: 'result', id: m.id, ...r }),
      (err: unknown) => send({ type: 'error', id: m.id, error: (err as Error).message }),
    );
  });
}

void main();

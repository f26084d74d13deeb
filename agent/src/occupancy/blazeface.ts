import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ScoredBox } from './scales.js';

/**
 * BlazeFace as a fully convolutional detector (docs/occupancy.md "Model"). The graph shipped in
 * @vladmandic/human (`models/blazeface.json`, the 256 px "back" model) ends in four 1×1
 * convolutions: scores and box regressors on a stride-16 grid (2 anchors a cell) and a stride-32
 * grid (6 anchors a cell), then reshapes fixed to one 256×256 picture. Reading the four
 * convolutions instead of the reshapes, and declaring the input's height and width free, runs the
 * same weights on a picture of any size whose sides are multiples of 32, in one pass, with the
 * anchor grid simply extended over it.
 */
export const HEADS = [33, 34, 35, 36].map((i) => `StatefulPartitionedCall/functional_1/conv2d_${i}/BiasAdd`);
/** [score head, regressor head, anchors a cell, stride] of each grid. */
const GRIDS: readonly [number, number, number, number][] = [
  [0, 2, 2, 16],
  [1, 3, 6, 32],
];
/** Regressor values an anchor: box centre offset (2), size (2), six landmarks (12). */
const REG = 16;
/** Both grids need input sides that are multiples of the coarser stride. */
export const INPUT_ALIGN = 32;

interface GraphNode {
  op: string;
  attr?: { shape?: { shape?: { dim?: { size: string }[] } } };
}
interface ModelJson {
  modelTopology: { node: GraphNode[] };
  weightsManifest: { paths: string[]; weights: unknown[] }[];
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
}

/**
 * The model's artifacts read from the installed package (nothing is fetched), with the input
 * declared [1, any, any, 3] instead of [1, 256, 256, 3] and the signature that pins it dropped.
 */
export function blazeFaceArtifacts(modelsDir: string): Record<string, unknown> {
  const file = join(modelsDir, 'blazeface.json');
  const json = JSON.parse(readFileSync(file, 'utf8')) as ModelJson;
  let inputs = 0;
  for (const n of json.modelTopology.node) {
    const dim = n.op === 'Placeholder' ? n.attr?.shape?.shape?.dim : undefined;
    if (dim?.length !== 4) continue;
    dim[1] = { size: '-1' };
    dim[2] = { size: '-1' };
    inputs++;
  }
  if (inputs !== 1) throw new Error(`${file}: expected one 4-D input, found ${inputs}`);
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
}

export interface HeadOutput {
  data: Float32Array | Int32Array | Uint8Array;
  /** [1, rows, cols, channels] */
  shape: number[];
}

/**
 * Faces from the four heads, in input pixels: every anchor whose score (a logistic of the head's
 * logit) reaches `minScore`. The box is the anchor's cell centre moved by the regressed offset,
 * with the regressed size, as BlazeFace was trained (MediaPipe's SSD anchor scheme).
 */
export function decodeHeads(heads: readonly HeadOutput[], minScore: number): ScoredBox[] {
  // logit ≥ ln(p/(1-p)) is the same test without an exp per anchor.
  const minLogit = Math.log(minScore / (1 - minScore));
  const out: ScoredBox[] = [];
  for (const [si, ri, n, stride] of GRIDS) {
    const scores = heads[si];
    const regs = heads[ri];
    if (!scores || !regs) throw new Error('BlazeFace output has fewer than four heads');
    const [, rows = 0, cols = 0, ch = 0] = scores.shape;
    if (ch !== n || regs.shape[3] !== n * REG || regs.shape[1] !== rows || regs.shape[2] !== cols)
      throw new Error(`unexpected BlazeFace head shapes ${scores.shape} / ${regs.shape}`);
    for (let gy = 0; gy < rows; gy++) {
      for (let gx = 0; gx < cols; gx++) {
        for (let k = 0; k < n; k++) {
          const i = (gy * cols + gx) * n + k;
          const logit = scores.data[i] ?? Number.NEGATIVE_INFINITY;
          if (logit < minLogit) continue;
          const o = i * REG;
          const w = regs.data[o + 2] ?? 0;
          const h = regs.data[o + 3] ?? 0;
          if (w <= 0 || h <= 0) continue;
          const cx = stride * (gx + 0.5) + (regs.data[o] ?? 0);
          const cy = stride * (gy + 0.5) + (regs.data[o + 1] ?? 0);
          out.push({ x: cx - w / 2, y: cy - h / 2, w, h, score: 1 / (1 + Math.exp(-logit)) });
        }
      }
    }
  }
  return out;
}

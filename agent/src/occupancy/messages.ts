import type { ScoredBox } from './scales.js';

/** Settings the detector worker starts with (`workerData`). */
export interface WorkerInit {
  modelsDir: string;
  wasmDir: string;
  /** Lowest BlazeFace score that counts as a face (measured: docs/occupancy.md "Accuracy"). */
  minScore: number;
}

export interface CountResult {
  people: number;
  boxes: ScoredBox[];
  /** Milliseconds of the decode, both passes and the merge (wall time in the worker). */
  ms: number;
  width: number;
  height: number;
}

/** `picture`: a PPM (P6) from the monitor's pipeline, or a JPEG. */
export type ToWorker = { type: 'count'; id: number; picture: Uint8Array };

export type FromWorker =
  /** `simd`: whether the SIMD build of the WASM binary runs (BENCHMARKS.md's costs are with it). */
  | { type: 'ready'; backend: string; initMs: number; simd: boolean }
  | { type: 'fatal'; error: string }
  | ({ type: 'result'; id: number } & CountResult)
  | { type: 'error'; id: number; error: string };

import type { ScoredBox } from './tiles.js';

/** Settings the detector worker starts with (`workerData`). */
export interface WorkerInit {
  modelsDir: string;
  wasmDir: string;
  /** Lowest BlazeFace score that counts as a face (measured: docs/occupancy.md "Accuracy"). */
  minScore: number;
  /** Target tile size in frame pixels (tiles.ts tileGrid). */
  tile: { w: number; h: number };
}

export interface CountResult {
  people: number;
  boxes: ScoredBox[];
  /** Milliseconds of the decode, the tiles' inference and the merge. */
  ms: number;
  width: number;
  height: number;
}

export type ToWorker = { type: 'count'; id: number; jpeg: Uint8Array };

export type FromWorker =
  | { type: 'ready'; backend: string; initMs: number }
  | { type: 'fatal'; error: string }
  | ({ type: 'result'; id: number } & CountResult)
  | { type: 'error'; id: number; error: string };

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { CountResult, FromWorker, ToWorker, WorkerInit } from './messages.js';
import { installedModelPaths } from './model.js';

/**
 * Lowest BlazeFace score counted as a face. Measured on the shipped group photos and the
 * composites (BENCHMARKS.md "People counting on the box"): below 0.35 patterned clothes and hair
 * become faces.
 */
export const DEFAULT_MIN_SCORE = 0.35;
/** A count that takes longer than this means a wedged worker: it is ended and restarted. */
const COUNT_TIMEOUT_MS = 60_000;
const INIT_TIMEOUT_MS = 120_000;

export interface DetectorOptions {
  /** Overrides of the installed packages' paths (tests point wasmDir at the wrong place). */
  modelsDir?: string;
  wasmDir?: string;
  minScore?: number;
}

/** The built worker: next to this file in dist/, or the build's copy when run from src/ (tests). */
function workerFile(): URL {
  const here = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  return new URL('../../dist/occupancy/worker.js', import.meta.url);
}

/**
 * The people counter of the box (docs/occupancy.md): BlazeFace on tfjs-wasm in a worker thread.
 * `start()` rejects with the reason when no model can run (missing package, wrong wasm path,
 * a CPU the WASM binary does not support); counting then stays off and health monitoring goes on.
 */
export class PeopleDetector {
  private worker: Worker | null = null;
  private nextId = 1;
  private pending = new Map<
    number,
    { resolve: (r: CountResult) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  private backendName: string | null = null;

  constructor(private readonly opts: DetectorOptions = {}) {}

  get backend(): string | null {
    return this.backendName;
  }

  async start(): Promise<{ backend: string; initMs: number; simd: boolean }> {
    const paths = installedModelPaths();
    const init: WorkerInit = {
      modelsDir: this.opts.modelsDir ?? paths.modelsDir,
      wasmDir: this.opts.wasmDir ?? paths.wasmDir,
      minScore: this.opts.minScore ?? DEFAULT_MIN_SCORE,
    };
    const worker = new Worker(workerFile(), { workerData: init });
    this.worker = worker;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        void worker.terminate();
        reject(new Error(`detector init took longer than ${INIT_TIMEOUT_MS / 1000} s`));
      }, INIT_TIMEOUT_MS);
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          this.backendName = m.backend;
          resolve({ backend: m.backend, initMs: m.initMs, simd: m.simd });
        } else if (m.type === 'fatal') {
          clearTimeout(timer);
          this.worker = null;
          void worker.terminate();
          reject(new Error(m.error));
        } else if (m.type === 'result' || m.type === 'error') {
          const p = this.pending.get(m.id);
          if (!p) return;
          this.pending.delete(m.id);
          clearTimeout(p.timer);
          if (m.type === 'error') p.reject(new Error(`count failed: ${m.error}`));
          else {
            const { type: _t, id: _i, ...r } = m;
            p.resolve(r);
          }
        }
      });
      worker.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`detector worker failed: ${err.message}`));
        this.failAll(`detector worker failed: ${err.message}`);
      });
      worker.once('exit', (code) => {
        clearTimeout(timer);
        if (this.worker === worker) this.worker = null;
        reject(new Error(`detector worker exited (code ${code})`));
        this.failAll(`detector worker exited (code ${code})`);
      });
    });
  }

  private failAll(reason: string): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error(reason));
      this.pending.delete(id);
    }
  }

  /** Counts the faces in one picture: a PPM from the monitor's pipeline, or a JPEG. */
  count(picture: Buffer): Promise<CountResult> {
    const worker = this.worker;
    if (!worker || this.backendName === null) return Promise.reject(new Error('detector is not running'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`count took longer than ${COUNT_TIMEOUT_MS / 1000} s`));
      }, COUNT_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      // A copy that is transferred, not cloned: the frame buffer may be a slice of a larger one.
      const copy = new Uint8Array(picture);
      const msg: ToWorker = { type: 'count', id, picture: copy };
      worker.postMessage(msg, [copy.buffer]);
    });
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.backendName = null;
    this.failAll('detector stopped');
    if (worker) await worker.terminate();
  }
}

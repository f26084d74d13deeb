import { INPUT_ALIGN } from './blazeface.js';

/** A rectangle in picture pixels. */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface ScoredBox extends Box {
  score: number;
}

/**
 * Width of the fine pass, the picture counted (docs/occupancy.md "Scales"). BlazeFace finds
 * faces from about 14 px of its input; at 832 px a 720p frame is scaled by 0.65, which keeps the
 * 40 px faces of a classroom's back rows at 26 px. Its cost is proportional to its area: 832×480
 * is about six times BlazeFace's native 256×256 (BENCHMARKS.md "People counting on the box").
 */
export const COUNT_WIDTH = 832;
/** Width of the coarse pass, for faces near the camera that are too large for the fine one. */
export const COARSE_WIDTH = 256;
/** Largest face the fine pass counts, in its own pixels; larger ones are the coarse pass's. */
const FINE_MAX_FACE = 40;
/** Smallest face the coarse pass counts, in fine-pass pixels: below it its boxes are noise. */
const COARSE_MIN_FACE = 32;

/**
 * The ffmpeg filter that makes the picture a count needs out of a decoded frame: scaled down to
 * COUNT_WIDTH (never up), area-averaged, as RGB for the `ppm` encoder. The monitor's pipeline
 * and occupancy-check use the same one, so the installer calibrates what the agent counts.
 */
export const COUNT_FILTER = `scale=w='min(${COUNT_WIDTH},iw)':h=-2:flags=area,format=rgb24`;

/** One detector pass over a picture: its size, the padding to the model's grid, the face band. */
export interface Pass {
  /** Scaled picture size (pass pixels) and that size padded to INPUT_ALIGN. */
  width: number;
  height: number;
  padWidth: number;
  padHeight: number;
  /** Pass pixels per picture pixel. */
  scale: number;
  /** Face widths this pass counts, in picture pixels. */
  minFace: number;
  maxFace: number;
}

const align = (v: number): number => Math.max(INPUT_ALIGN, Math.ceil(v / INPUT_ALIGN) * INPUT_ALIGN);

function pass(width: number, height: number, scale: number, minFace: number, maxFace: number): Pass {
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  return { width: w, height: h, padWidth: align(w), padHeight: align(h), scale, minFace, maxFace };
}

/**
 * The passes of one count: the fine pass at COUNT_WIDTH (the picture itself when it is that
 * wide or narrower), and the coarse one at COARSE_WIDTH when the picture is wider than that.
 * Their face bands overlap a little, so that a face at the border is found by both and merged.
 */
export function countPasses(width: number, height: number): Pass[] {
  const fine = Math.min(1, COUNT_WIDTH / width);
  if (width * fine <= COARSE_WIDTH) return [pass(width, height, fine, 0, Number.POSITIVE_INFINITY)];
  return [
    pass(width, height, fine, 0, FINE_MAX_FACE / fine),
    pass(width, height, COARSE_WIDTH / width, COARSE_MIN_FACE / fine, Number.POSITIVE_INFINITY),
  ];
}

function area(b: Box): number {
  return Math.max(0, b.w) * Math.max(0, b.h);
}

function intersection(a: Box, b: Box): number {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

/**
 * Merges detections (greedy non-maximum suppression, best score first): the anchors of one face
 * within a pass, and a face found by both passes. Two boxes are one face when their IoU exceeds
 * `iou`, or when most of the smaller one lies inside the larger (`contained`).
 */
export function mergeDetections(boxes: readonly ScoredBox[], iou = 0.3, contained = 0.6): ScoredBox[] {
  const sorted = [...boxes].sort((a, b) => b.score - a.score);
  const kept: ScoredBox[] = [];
  for (const b of sorted) {
    const dup = kept.some((k) => {
      const i = intersection(k, b);
      if (i === 0) return false;
      const u = area(k) + area(b) - i;
      return i / u > iou || i / Math.min(area(k), area(b)) > contained;
    });
    if (!dup) kept.push(b);
  }
  return kept;
}

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
 * faces from about 14 px of its input; at 960 px a 720p frame is scaled by 0.75. Its cost is
 * proportional to its area: 960×544 is eight times BlazeFace's native 256×256, measured at about
 * half a CPU-second a count; 832 px cost a fifth less but missed 37 % of the 24 px faces
 * instead of 26 % (BENCHMARKS.md "People counting on the box").
 */
export const COUNT_WIDTH = 960;
/** Width of the coarse pass, for faces near the camera that are too large for the fine one. */
export const COARSE_WIDTH = 256;
/**
 * Largest face the fine pass counts, as a share of the picture's width; larger ones are the
 * coarse pass's, and what the fine pass reports there is mostly part of a face, a hand or a
 * patterned shirt (measured on the shipped photos).
 */
const FINE_MAX_FACE = 0.048;
/**
 * Smallest face the coarse pass counts, as a share of the picture's width: 10 px of its 256,
 * below which its boxes were mostly misplaced duplicates and clothing (measured on the composites).
 */
const COARSE_MIN_FACE = 0.039;

/**
 * The ffmpeg filter that makes the picture a count needs out of a decoded frame: scaled down to
 * COUNT_WIDTH (never up), area-averaged, as RGB for the `ppm` encoder. The monitor's pipeline
 * and occupancy-check use the same one, so the installer calibrates what the agent counts.
 */
export const COUNT_FILTER = `scale=w='min(${COUNT_WIDTH},iw)':h=-2:flags=area,format=rgb24`;

/**
 * In the fine pass, a face wider than this share of the picture is resolved well enough that a
 * real one scores high; below FIRM_SCORE such boxes were ears, hair and hands (shipped photos).
 */
const FIRM_FACE = 0.03;
const FIRM_SCORE = 0.5;

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
  /** Faces wider than `firmFace` (picture pixels) count only from `firmScore` on. */
  firmFace: number;
  firmScore: number;
}

const align = (v: number): number => Math.max(INPUT_ALIGN, Math.ceil(v / INPUT_ALIGN) * INPUT_ALIGN);

function pass(width: number, height: number, scale: number, band: Partial<Pass>): Pass {
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  return {
    width: w,
    height: h,
    padWidth: align(w),
    padHeight: align(h),
    scale,
    minFace: 0,
    maxFace: Number.POSITIVE_INFINITY,
    firmFace: Number.POSITIVE_INFINITY,
    firmScore: 0,
    ...band,
  };
}

/**
 * The passes of one count: the fine pass at COUNT_WIDTH (the picture itself when it is that
 * wide or narrower), and the coarse one at COARSE_WIDTH when the picture is wider than that.
 * Their face bands overlap a little, so that a face at the border is found by both and merged.
 */
export function countPasses(width: number, height: number): Pass[] {
  const fine = Math.min(1, COUNT_WIDTH / width);
  if (width * fine <= COARSE_WIDTH) return [pass(width, height, fine, {})];
  return [
    pass(width, height, fine, {
      maxFace: FINE_MAX_FACE * width,
      firmFace: FIRM_FACE * width,
      firmScore: FIRM_SCORE,
    }),
    pass(width, height, COARSE_WIDTH / width, { minFace: COARSE_MIN_FACE * width }),
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

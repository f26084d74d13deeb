/** A rectangle in frame pixels. */
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
 * Tiles of a frame for the face detector (docs/occupancy.md "Tiling"). BlazeFace sees a 256×256
 * picture: a whole 1280×720 frame shrinks a 30 px face of the back rows to 6 px, below what it
 * finds. Tiles of about 384×432 px (a 4×2 grid at 720p and at 1080p) keep it near 20 px of the
 * detector's input; 2×2 tiles (10 px) found a quarter of the 24–32 px faces (BENCHMARKS.md). Neighbouring tiles overlap by `overlap` of a tile, so a face on a seam is
 * whole in one of them; the whole frame is one more tile, for faces too large for a tile.
 */
export function tileGrid(width: number, height: number, target = { w: 320, h: 360 }, overlap = 0.2): Box[] {
  // Targets are for a 1280 px wide frame; a wider camera of the same room shows larger faces.
  const k = Math.max(1, width / 1280);
  const cols = Math.max(1, Math.round(width / (target.w * k)));
  const rows = Math.max(1, Math.round(height / (target.h * k)));
  const tiles: Box[] = [{ x: 0, y: 0, w: width, h: height }];
  if (cols === 1 && rows === 1) return tiles;
  const tw = Math.min(width, Math.ceil((width / cols) * (1 + (cols > 1 ? overlap : 0))));
  const th = Math.min(height, Math.ceil((height / rows) * (1 + (rows > 1 ? overlap : 0))));
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const x = cols === 1 ? 0 : Math.round((c * (width - tw)) / (cols - 1));
      const y = rows === 1 ? 0 : Math.round((r * (height - th)) / (rows - 1));
      tiles.push({ x, y, w: tw, h: th });
    }
  }
  return tiles;
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
 * Merges the detections of overlapping tiles (greedy non-maximum suppression, best score first).
 * Two boxes are one face when their IoU exceeds `iou`, or when most of the smaller one lies inside
 * the larger (`contained`): a face cut by a tile edge is found as a part of itself in that tile.
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

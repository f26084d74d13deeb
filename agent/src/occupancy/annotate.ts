import jpeg from 'jpeg-js';
import type { ScoredBox } from './tiles.js';

/**
 * Draws the counted boxes on a frame (occupancy-check `--out`), so an installer can compare the
 * count with the room. The result stays on the box's disk (docs/occupancy.md "Calibration").
 */
export function annotateFrame(frame: Buffer, boxes: readonly ScoredBox[]): Buffer {
  const img = jpeg.decode(frame, {
    useTArray: true,
    formatAsRGBA: true,
    maxResolutionInMP: 9,
    maxMemoryUsageInMB: 64,
  });
  const { width, height, data } = img;
  const line = Math.max(2, Math.round(width / 640));
  const paint = (x: number, y: number): void => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const i = (y * width + x) * 4;
    data[i] = 0;
    data[i + 1] = 255;
    data[i + 2] = 0;
  };
  for (const b of boxes) {
    const x0 = Math.round(b.x);
    const y0 = Math.round(b.y);
    const x1 = Math.round(b.x + b.w);
    const y1 = Math.round(b.y + b.h);
    for (let t = 0; t < line; t++) {
      for (let x = x0; x <= x1; x++) {
        paint(x, y0 + t);
        paint(x, y1 - t);
      }
      for (let y = y0; y <= y1; y++) {
        paint(x0 + t, y);
        paint(x1 - t, y);
      }
    }
  }
  return Buffer.from(jpeg.encode({ data, width, height }, 85).data);
}

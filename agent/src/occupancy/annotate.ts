import jpeg from 'jpeg-js';
import { parsePpm } from '../media/ppm.js';
import type { ScoredBox } from './scales.js';

/**
 * Draws the counted boxes on the counted picture (occupancy-check `--out`), so an installer can compare the
 * count with the room. The result stays on the box's disk (docs/occupancy.md "Calibration").
 */
export function annotateFrame(ppm: Buffer, boxes: readonly ScoredBox[]): Buffer {
  const { width, height, data: rgb } = parsePpm(ppm);
  // jpeg-js encodes RGBA.
  const data = new Uint8Array(width * height * 4);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    data[j] = rgb[i]!;
    data[j + 1] = rgb[i + 1]!;
    data[j + 2] = rgb[i + 2]!;
    data[j + 3] = 255;
  }
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

import { describe, expect, it } from 'vitest';
import { PpmSplitter, parsePpm } from '../src/media/ppm.js';
import { decodeHeads } from '../src/occupancy/blazeface.js';
import { COUNT_WIDTH, countPasses } from '../src/occupancy/scales.js';

function ppm(width: number, height: number, fill: number): Buffer {
  return Buffer.concat([
    Buffer.from(`P6\n${width} ${height}\n255\n`, 'latin1'),
    Buffer.alloc(width * height * 3, fill),
  ]);
}

describe('PPM pictures from the pipeline (docs/occupancy.md "Frames")', () => {
  it('parses the header ffmpeg writes and refuses what is not a whole picture', () => {
    const p = parsePpm(ppm(4, 2, 7));
    expect([p.width, p.height, p.data.length, p.data[23]]).toEqual([4, 2, 24, 7]);
    expect(() => parsePpm(ppm(4, 2, 7).subarray(0, 20))).toThrow(/truncated/);
    expect(() => parsePpm(Buffer.from('not a picture at all, not at all'))).toThrow(/not a PPM/);
    expect(() => parsePpm(Buffer.from('P6\n4 2\n65535\n'))).toThrow(/maxval/);
    expect(() => parsePpm(Buffer.from('P6\n99999 2\n255\n'))).toThrow(/out of bounds/);
  });

  it('splits a stream cut at any byte into its pictures, and skips garbage between them', () => {
    const a = ppm(5, 3, 1);
    const b = ppm(2, 2, 2);
    const stream = Buffer.concat([a, Buffer.from('garbage'), b, a]);
    for (const step of [1, 7, 64, stream.length]) {
      const got: Buffer[] = [];
      const s = new PpmSplitter((p) => got.push(p));
      for (let i = 0; i < stream.length; i += step) s.push(stream.subarray(i, i + step));
      expect(
        got.map((p) => parsePpm(p).width),
        `step ${step}`,
      ).toEqual([5, 2, 5]);
      expect(got[1]!.equals(b)).toBe(true);
    }
  });
});

describe('BlazeFace passes and heads (docs/occupancy.md "Scales")', () => {
  it('counts a 720p frame as a fine pass at COUNT_WIDTH and a coarse one, with overlapping face bands', () => {
    const [fine, coarse, more] = countPasses(1280, 720);
    expect(more).toBeUndefined();
    expect(fine).toMatchObject({ width: COUNT_WIDTH, height: 540, padWidth: 960, padHeight: 544 });
    expect(coarse).toMatchObject({ width: 256, height: 144, padWidth: 256, padHeight: 160 });
    expect(coarse!.minFace).toBeLessThan(fine!.maxFace);
    expect(fine!.firmFace).toBeLessThan(fine!.maxFace);
    expect(coarse!.firmScore).toBe(0);
    // The pipeline's picture is already COUNT_WIDTH wide: the fine pass is the picture itself.
    expect(countPasses(960, 540)[0]!.scale).toBe(1);
    // A picture no wider than the coarse pass is one pass that keeps every face.
    expect(countPasses(256, 144)).toHaveLength(1);
  });

  it('decodes a face from its anchor cell, offset and size; a low score is no face', () => {
    // A 64×32 input: the stride-16 grid is 2×4 cells with 2 anchors, the stride-32 one 1×2 with 6.
    const s16 = new Float32Array(2 * 4 * 2).fill(-10);
    const r16 = new Float32Array(2 * 4 * 2 * 16);
    const s32 = new Float32Array(1 * 2 * 6).fill(-10);
    const r32 = new Float32Array(1 * 2 * 6 * 16);
    const i = (1 * 4 + 2) * 2 + 1; // cell row 1, column 2, second anchor
    s16[i] = 2; // p = 0.88
    r16.set([3, -2, 20, 22], i * 16);
    s32[0] = -1; // p = 0.27: below 0.35
    r32.set([0, 0, 30, 30], 0);
    const boxes = decodeHeads(
      [
        { data: s16, shape: [1, 2, 4, 2] },
        { data: s32, shape: [1, 1, 2, 6] },
        { data: r16, shape: [1, 2, 4, 32] },
        { data: r32, shape: [1, 1, 2, 96] },
      ],
      0.35,
    );
    expect(boxes).toHaveLength(1);
    // Centre: 16 × (2 + 0.5) + 3 = 43, 16 × (1 + 0.5) − 2 = 22.
    expect(boxes[0]).toMatchObject({ x: 33, y: 11, w: 20, h: 22 });
    expect(boxes[0]!.score).toBeCloseTo(1 / (1 + Math.exp(-2)), 5);
    expect(() => decodeHeads([{ data: s16, shape: [1, 2, 4, 2] }], 0.35)).toThrow(/four heads/);
  });
});

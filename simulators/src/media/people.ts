import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * People for the synthetic camera (docs/simulators.md "People"): head-and-shoulders crops of the
 * group photos that ship in `@vladmandic/face-api` (demo/sample1…6.jpg, MIT), seated in rows of a
 * classroom seen from the front. Faces are 48–64 px wide at 1280×720, above the 40 px from which the
 * agent's counter is within ±2 people (BENCHMARKS.md "People counting on the box").
 */

/** A face in a shipped photo: its box in the photo's own pixels (1920 px wide). */
interface PhotoFace {
  photo: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * 20 of the 22 faces of the six photos (counted by eye; boxes located once with BlazeFace, its two
 * false hits, a hand and a knee, left out). Left out too: sample2's profile with a hand at the mouth
 * and its third face, whose crop keeps a raised arm; at 48–64 px each was counted as two people.
 */
const FACES: readonly PhotoFace[] = [
  ['sample1.jpg', 340, 321, 356, 356],
  ['sample1.jpg', 780, 384, 328, 328],
  ['sample1.jpg', 1438, 203, 279, 279],
  ['sample2.jpg', 794, 190, 354, 354],
  ['sample3.jpg', 514, 302, 360, 360],
  ['sample3.jpg', 1002, 191, 369, 368],
  ['sample3.jpg', 1349, 249, 408, 408],
  ['sample4.jpg', 181, 191, 302, 301],
  ['sample4.jpg', 623, 74, 280, 279],
  ['sample4.jpg', 914, 159, 329, 329],
  ['sample4.jpg', 1222, 138, 305, 305],
  ['sample5.jpg', 262, 855, 368, 368],
  ['sample5.jpg', 513, 403, 308, 307],
  ['sample5.jpg', 737, 100, 272, 271],
  ['sample5.jpg', 1056, 182, 320, 320],
  ['sample5.jpg', 1336, 352, 395, 395],
  ['sample6.jpg', 179, 469, 361, 360],
  ['sample6.jpg', 591, 309, 385, 385],
  ['sample6.jpg', 1075, 282, 369, 369],
  ['sample6.jpg', 1408, 242, 375, 375],
].map(([photo, x, y, w, h]) => ({ photo, x, y, w, h }) as PhotoFace);

const PHOTO_SIZE: Record<string, { w: number; h: number }> = {
  'sample1.jpg': { w: 1920, h: 1280 },
  'sample2.jpg': { w: 1920, h: 1367 },
  'sample3.jpg': { w: 1920, h: 1350 },
  'sample4.jpg': { w: 1920, h: 1448 },
  'sample5.jpg': { w: 1920, h: 1398 },
  'sample6.jpg': { w: 1920, h: 1537 },
};

export interface Crop {
  x: number;
  y: number;
  w: number;
  h: number;
  /** The face's offset inside the crop. */
  faceX: number;
  faceY: number;
}

/**
 * Head and shoulders around one face, cut back where it would take in part of a neighbour's face
 * (a half face at a crop's edge would be counted as a second person).
 */
export function cropOf(i: number): Crop {
  const f = FACES[i]!;
  const size = PHOTO_SIZE[f.photo]!;
  let x0 = f.x - 0.25 * f.w;
  let x1 = f.x + 1.25 * f.w;
  let y0 = f.y - 0.35 * f.h;
  let y1 = f.y + 1.45 * f.h;
  for (const o of FACES) {
    if (o === f || o.photo !== f.photo) continue;
    const overlaps = o.x < x1 && o.x + o.w > x0 && o.y < y1 && o.y + o.h > y0;
    if (!overlaps) continue;
    // Never into the face itself: where two faces overlap, a sliver of the neighbour stays.
    const sameRow = o.y < f.y + f.h && o.y + o.h > f.y;
    if (sameRow) {
      if (o.x > f.x) x1 = Math.min(x1, Math.max(o.x, f.x + f.w));
      else x0 = Math.max(x0, Math.min(o.x + o.w, f.x));
    } else if (o.y > f.y) y1 = Math.min(y1, Math.max(o.y, f.y + f.h));
    else y0 = Math.max(y0, Math.min(o.y + o.h, f.y));
  }
  x0 = Math.max(0, Math.round(x0));
  y0 = Math.max(0, Math.round(y0));
  x1 = Math.min(size.w, Math.round(x1));
  y1 = Math.min(size.h, Math.round(y1));
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0, faceX: f.x - x0, faceY: f.y - y0 };
}

/** Where one person sits: the face's top-left corner and width in frame pixels. */
export interface Seat {
  x: number;
  y: number;
  faceW: number;
  row: number;
}

/** Rows from the back: face width and face top at 1280×720; seats 1.9 face widths apart. */
const ROWS = [
  { faceW: 48, top: 150 },
  { faceW: 56, top: 290 },
  { faceW: 64, top: 450 },
] as const;

/**
 * The seats of the room at width×height (laid out at 1280×720 and scaled), in the order people take
 * them: spread over the room by a fixed shuffle, so a half-full room is not one full row.
 */
export function seats(width: number, height: number): Seat[] {
  const kx = width / 1280;
  const ky = height / 720;
  const all: Seat[] = [];
  ROWS.forEach((r, row) => {
    const step = r.faceW * 1.9;
    const n = Math.floor((1280 - 40) / step);
    const left = (1280 - (n - 1) * step - r.faceW) / 2;
    for (let i = 0; i < n; i++) {
      // Every other seat a little higher: people do not sit on one line.
      const lift = i % 2 === 0 ? 0 : -r.faceW * 0.15;
      all.push({
        x: Math.round((left + i * step) * kx),
        y: Math.round((r.top + lift) * ky),
        faceW: Math.round(r.faceW * kx),
        row,
      });
    }
  });
  // A fixed shuffle (LCG), so every run and every renderer seats people identically.
  let s = 12345;
  for (let i = all.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all;
}

/** Part of the rendered pictures' names: bump it when the seating or the crops change. */
const LAYOUT_VERSION = 'v1';

/** Most people one synthetic room can show. */
export const MAX_PEOPLE = seats(1280, 720).length;

function photoDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
}

/** The shipped photos' directory, or an error that says what to install. */
export function photosAvailable(): string {
  let dir: string;
  try {
    dir = photoDir();
  } catch {
    throw new Error(
      'people in the synthetic camera need the npm package @vladmandic/face-api (its demo photos)',
    );
  }
  const missing = Object.keys(PHOTO_SIZE).filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0) throw new Error(`@vladmandic/face-api lacks ${missing.join(', ')} in ${dir}`);
  return dir;
}

/**
 * ffmpeg arguments that write one JPEG of the room with the first `people` seats taken. Desks are
 * drawn over the lower part of each row, as real desks hide laps and hands.
 */
export function roomFrameArgs(o: { people: number; width: number; height: number; out: string }): string[] {
  if (!Number.isInteger(o.people) || o.people < 0 || o.people > MAX_PEOPLE)
    throw new Error(`a synthetic room seats 0…${MAX_PEOPLE} people, not ${o.people}`);
  const dir = photosAvailable();
  const taken = seats(o.width, o.height).slice(0, o.people);
  const photos = [...new Set(taken.map((_, i) => FACES[i % FACES.length]!.photo))];
  const inputs = photos.flatMap((p) => ['-i', join(dir, p)]);
  const parts: string[] = [];
  // Photo inputs follow the base (input 0); each is split once per person cut from it.
  const uses = new Map<string, string[]>();
  taken.forEach((_, i) => {
    const photo = FACES[i % FACES.length]!.photo;
    const list = uses.get(photo) ?? [];
    list.push(`[c${i}]`);
    uses.set(photo, list);
  });
  photos.forEach((p, k) => {
    const labels = uses.get(p)!;
    parts.push(`[${k + 1}:v]split=${labels.length}${labels.join('')}`);
  });
  let current = '[0:v]';
  taken.forEach((seat, i) => {
    const c = cropOf(i % FACES.length);
    const face = FACES[i % FACES.length]!;
    const s = seat.faceW / face.w;
    const w = Math.max(2, Math.round(c.w * s));
    const h = Math.max(2, Math.round(c.h * s));
    // Past the 20 faces the same people come again, mirrored.
    const flip = Math.floor(i / FACES.length) % 2 === 1;
    const fx = flip ? c.w - c.faceX - face.w : c.faceX;
    const x = Math.round(seat.x - fx * s);
    const y = Math.round(seat.y - c.faceY * s);
    parts.push(`[c${i}]crop=${c.w}:${c.h}:${c.x}:${c.y},scale=${w}:${h}${flip ? ',hflip' : ''}[p${i}]`);
    parts.push(`${current}[p${i}]overlay=${x}:${y}[o${i}]`);
    current = `[o${i}]`;
  });
  const ky = o.height / 720;
  const desks = ROWS.map((r) => {
    const y = Math.round((r.top + r.faceW * 1.35) * ky);
    return `drawbox=x=0:y=${y}:w=${o.width}:h=${Math.round(r.faceW * 0.5 * ky)}:color=0x5b4630:t=fill`;
  });
  parts.push(`${current}${desks.join(',')},format=yuvj420p[v]`);
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostdin',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `color=c=0x8a8a80:s=${o.width}x${o.height}:d=1`,
    ...inputs,
    '-filter_complex',
    parts.join(';'),
    '-map',
    '[v]',
    '-frames:v',
    '1',
    '-q:v',
    '2',
    o.out,
  ];
}

/**
 * Renders the room once per head count the timeline needs (`<dir>/room-v1-WxH-N.jpg`, kept between
 * runs; the version changes with the layout) and returns the files by count. Done before the camera starts, so the live graph only
 * decodes one still JPEG per frame instead of compositing people.
 */
export async function renderRoomFrames(
  ffmpegPath: string,
  dir: string,
  counts: Iterable<number>,
  width: number,
  height: number,
): Promise<Map<number, string>> {
  mkdirSync(dir, { recursive: true });
  const out = new Map<number, string>();
  for (const n of new Set(counts)) {
    const file = join(dir, `room-${LAYOUT_VERSION}-${width}x${height}-${n}.jpg`);
    if (!existsSync(file)) {
      // Rooms starting side by side may render the same picture: each writes its own file first.
      const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp.jpg`;
      await new Promise<void>((resolve, reject) => {
        execFile(
          ffmpegPath,
          roomFrameArgs({ people: n, width, height, out: tmp }),
          { timeout: 60_000 },
          (err, _o, stderr) =>
            err
              ? reject(new Error(`rendering a room with ${n} people failed: ${stderr || err.message}`))
              : resolve(),
        );
      });
      renameSync(tmp, file);
    }
    out.set(n, file);
  }
  return out;
}

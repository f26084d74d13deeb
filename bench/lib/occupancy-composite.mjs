// Classroom-like test pictures with a known number of people, built at run time from the group
// photos that ship in @vladmandic/face-api (docs/occupancy.md "Accuracy"): the photos are scaled
// so that their faces have a chosen size and set in rows on a wall-coloured canvas, like the rows
// of a lecture hall. Nothing binary is committed; ImageMagick `convert` draws them.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** The shipped photos with the people in each (counted by eye) and their median face width in px. */
export const SAMPLE_PHOTOS = [
  { file: 'sample1.jpg', people: 3, faceW: 320 },
  { file: 'sample2.jpg', people: 3, faceW: 345 },
  { file: 'sample3.jpg', people: 3, faceW: 380 },
  { file: 'sample4.jpg', people: 4, faceW: 305 },
  { file: 'sample5.jpg', people: 5, faceW: 330 },
  { file: 'sample6.jpg', people: 4, faceW: 375 },
];
const PHOTO_W = 1920;

export function samplePath(file) {
  return join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo', file);
}

/**
 * Writes a width×height JPEG to `out` with photos scaled so that faces are about `faceW` px, in
 * up to `rows` rows (the photos taken in turn from `offset`), and a desk-coloured bar across the
 * lower part of each row that hides hands and laps, as desks do. Returns the number of people.
 */
export function writeComposite(out, { faceW, width = 1280, height = 720, rows = 3, offset = 0 }) {
  const args = ['-size', `${width}x${height}`, 'xc:#8a8a80'];
  let people = 0;
  let y = 10;
  let k = offset;
  const scale = faceW / 340;
  const pw = Math.round(PHOTO_W * scale);
  const gap = Math.max(4, Math.round(pw * 0.05));
  for (let r = 0; r < rows; r++) {
    const ph = Math.round(pw * 0.8);
    if (y + ph > height) break;
    for (let x = 10; x + pw <= width; x += pw + gap) {
      const p = SAMPLE_PHOTOS[k++ % SAMPLE_PHOTOS.length];
      args.push(
        '(',
        samplePath(p.file),
        '-resize',
        `${pw}x${ph}`,
        ')',
        '-geometry',
        `+${x}+${y}`,
        '-composite',
      );
      people += p.people;
    }
    // Desks: the lowest fifth of each row is covered.
    args.push('-fill', '#5b4630', '-draw', `rectangle 0,${y + Math.round(ph * 0.8)} ${width},${y + ph}`);
    y += ph + gap;
  }
  args.push('-quality', '90', out);
  execFileSync('convert', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  return people;
}

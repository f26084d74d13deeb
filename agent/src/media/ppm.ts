/** A decoded picture: 8-bit RGB, row by row. */
export interface RgbPicture {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Largest side accepted from a PPM header: a corrupt header must not allocate gigabytes. */
const MAX_SIDE = 4096;
const HEADER = /^P6[ \t\r\n]+(\d{1,5})[ \t\r\n]+(\d{1,5})[ \t\r\n]+(\d{1,5})[ \t\r\n]/;

/**
 * The header of a binary PPM (netpbm P6, as ffmpeg's `ppm` encoder writes it: no comments):
 * its size and where the pixels start; null while incomplete, an error when it cannot be one.
 */
export function parsePpmHeader(
  buf: Uint8Array,
): { width: number; height: number; offset: number } | null | Error {
  if (buf.length < 2) return null;
  if (buf[0] !== 0x50 || buf[1] !== 0x36) return new Error('not a PPM (P6) picture');
  const head = Buffer.from(buf.buffer, buf.byteOffset, Math.min(buf.length, 32)).toString('latin1');
  const m = HEADER.exec(head);
  if (!m) return head.length >= 32 ? new Error('malformed PPM header') : null;
  const width = Number(m[1]);
  const height = Number(m[2]);
  if (Number(m[3]) !== 255) return new Error(`PPM maxval ${m[3]} is not 255`);
  if (width < 1 || height < 1 || width > MAX_SIDE || height > MAX_SIDE)
    return new Error(`PPM size ${width}×${height} out of bounds`);
  return { width, height, offset: m[0].length };
}

/** One whole PPM picture (the pixels are a view into `buf`). */
export function parsePpm(buf: Uint8Array): RgbPicture {
  const h = parsePpmHeader(buf);
  if (h === null) throw new Error('truncated PPM header');
  if (h instanceof Error) throw h;
  const n = h.width * h.height * 3;
  if (buf.length < h.offset + n)
    throw new Error(`truncated PPM: ${buf.length - h.offset} of ${n} pixel bytes`);
  return { width: h.width, height: h.height, data: buf.subarray(h.offset, h.offset + n) };
}

/**
 * Splits a stream of PPM pictures (ffmpeg `-c:v ppm -f image2pipe`) into whole pictures. A
 * picture's size comes from its own header, so a camera that changes resolution needs nothing
 * else; bytes that are not a picture are skipped up to the next header.
 */
export class PpmSplitter {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Bytes the picture at the head of the buffer needs (0: its header is not read yet). */
  private need = 0;

  constructor(private readonly onPicture: (ppm: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    // A picture is many pipe reads long: the pieces are joined once, when all have arrived.
    if (this.need > 0 && this.size < this.need) return;
    let buf = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks);
    for (;;) {
      const h = parsePpmHeader(buf);
      if (h === null) break;
      if (h instanceof Error) {
        // Resynchronise on the next "P", which may be the last byte read and a header's start.
        const next = buf.indexOf(0x50, 1);
        buf = next < 0 ? Buffer.alloc(0) : buf.subarray(next);
        continue;
      }
      const end = h.offset + h.width * h.height * 3;
      if (buf.length < end) {
        this.need = end;
        break;
      }
      this.need = 0;
      this.onPicture(Buffer.from(buf.subarray(0, end)));
      buf = buf.subarray(end);
    }
    this.chunks = buf.length > 0 ? [buf] : [];
    this.size = buf.length;
  }
}

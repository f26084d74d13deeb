/**
 * Splits an MJPEG byte stream (image2pipe) into JPEG images. Entropy-coded data stuffs every 0xFF
 * with 0x00, so FF D9 occurs only as the end-of-image marker of the encoder's own output.
 */
export class JpegSplitter {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(
    private readonly onImage: (jpeg: Buffer) => void,
    private readonly maxBytes = 8 * 1024 * 1024,
  ) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    let buf = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks);
    let from = 0;
    for (;;) {
      const end = buf.indexOf(EOI, from);
      if (end < 0) break;
      const img = buf.subarray(from, end + 2);
      if (img.length > 4 && img[0] === 0xff && img[1] === 0xd8) this.onImage(Buffer.from(img));
      from = end + 2;
    }
    buf = buf.subarray(from);
    // A corrupt stream without end markers must not grow without bound.
    if (buf.length > this.maxBytes) buf = Buffer.alloc(0);
    this.chunks = buf.length > 0 ? [buf] : [];
    this.size = buf.length;
  }
}

const EOI = Buffer.from([0xff, 0xd9]);

// aedes 1.2 sets no limit on the MQTT packet size: its parser buffers whatever Remaining Length a client
// announces (up to 256 MB) before anyone sees the payload. The guard reads the fixed header of every
// packet as aedes pulls bytes from the connection and drops the connection as soon as a packet
// announces more than the limit, so an oversized publish costs no memory ([MQTT-2.2.3] encoding).
import type { Duplex } from 'node:stream';

/** Largest MQTT packet accepted: the largest protocol payload plus room for the topic and headers. */
export const MAX_PACKET_BYTES = 1024 * 1024;

export class FrameScanner {
  private state: 'header' | 'length' | 'body' = 'header';
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private remaining = 0;

  constructor(private readonly maxBytes: number) {}

  /** Feeds bytes in stream order; returns an error message when a packet breaks the limit. */
  feed(buf: Uint8Array): string | null {
    let i = 0;
    while (i < buf.length) {
      switch (this.state) {
        case 'header':
          i++;
          this.state = 'length';
          this.length = 0;
          this.multiplier = 1;
          this.lengthBytes = 0;
          break;
        case 'length': {
          const b = buf[i++] as number;
          this.length += (b & 0x7f) * this.multiplier;
          this.multiplier *= 128;
          this.lengthBytes++;
          if (b & 0x80) {
            if (this.lengthBytes >= 4) return 'malformed remaining length';
            break;
          }
          if (this.length > this.maxBytes) return `packet of ${this.length} bytes exceeds ${this.maxBytes}`;
          this.remaining = this.length;
          this.state = this.remaining === 0 ? 'header' : 'body';
          break;
        }
        case 'body': {
          const n = Math.min(this.remaining, buf.length - i);
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = 'header';
          break;
        }
      }
    }
    return null;
  }
}

/** Wraps `stream.read` (what aedes calls) with a FrameScanner; destroys the stream on a violation. */
export function guardFrames(stream: Duplex, maxBytes: number, onViolation: (reason: string) => void): void {
  const scanner = new FrameScanner(maxBytes);
  const read = stream.read.bind(stream);
  stream.read = (size?: number) => {
    const chunk = read(size) as Buffer | null;
    if (chunk) {
      const violation = scanner.feed(chunk);
      if (violation) {
        onViolation(violation);
        stream.destroy(new Error(violation));
        return null;
      }
    }
    return chunk;
  };
}

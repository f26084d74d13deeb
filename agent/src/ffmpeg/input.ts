import { readFileSync } from 'node:fs';
/** How ffmpeg opens one configured source (DESIGN.md "Agent": any ffmpeg input). */
export interface InputSpec {
  /** Input options followed by `-i <url>`, ready for an ffmpeg command line. */
  args: string[];
  /** Options that go before the url for ffprobe (same demuxer and timeouts). */
  probeOptions: string[];
  /** The url or device given to `-i`. */
  url: string;
  /** Live sources deliver in real time by themselves; files and lavfi graphs are paced with -re. */
  live: boolean;
  /** Devices and UDP ports can be opened by one process at a time. */
  exclusive: boolean;
}

export interface InputOptions {
  /** Socket I/O timeout for network inputs, in seconds. */
  timeoutS: number;
  /**
   * Seconds of a live stream to read while looking for its parameters (default 2). A stream joined
   * mid-GOP has no SPS until the next keyframe, so a camera with long GOPs needs more.
   */
  analyzeS?: number;
}

/** Socket receive buffer asked for UDP inputs: ~13 s of a 2.5 Mb/s camera (capped by rmem_max). */
export const UDP_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * A warning when the kernel grants UDP inputs much less socket buffer than asked
 * (net.core.rmem_max): a stall of ffmpeg longer than the buffer then loses packets. Null when the
 * limit is big enough or cannot be read (not Linux).
 */
export function udpBufferWarning(
  read: () => string = () => readFileSync('/proc/sys/net/core/rmem_max', 'utf8'),
): string | null {
  let max: number;
  try {
    max = Number(read().trim());
  } catch {
    return null;
  }
  if (!Number.isFinite(max) || max >= UDP_BUFFER_BYTES) return null;
  return (
    `net.core.rmem_max is ${max} bytes: UDP inputs get that socket buffer instead of ${UDP_BUFFER_BYTES} ` +
    `and lose packets when ffmpeg stalls longer than it holds; raise it with ` +
    `sysctl -w net.core.rmem_max=${UDP_BUFFER_BYTES} (and in /etc/sysctl.d/)`
  );
}

function withQuery(url: string, key: string, value: string): string {
  if (new RegExp(`[?&]${key}=`).test(url)) return url;
  return `${url}${url.includes('?') ? '&' : '?'}${key}=${value}`;
}

/**
 * Maps a configured `input` to ffmpeg input arguments.
 * - rtsp(s)://: TCP interleaved transport (UDP RTP is lossy through NAT/firewalls) and a socket
 *   timeout, so a dead camera ends ffmpeg instead of hanging it (docs/agent-media.md "Supported inputs").
 * - udp:// and tcp:// MPEG-TS: a socket timeout in the url; UDP is read without ffmpeg's receive
 *   thread into a large kernel socket buffer (UDP_BUFFER_BYTES).
 * - /dev/video*: v4l2; alsa:DEV: ALSA capture; lavfi:GRAPH: a synthetic source for tests.
 * - anything else is a file (or a url ffmpeg understands), read at its native rate.
 */
export function inputSpec(input: string, opts: InputOptions): InputSpec {
  const us = String(Math.round(opts.timeoutS * 1_000_000));
  // A live MPEG-TS stream shows all its streams within a GOP or two; the 5 s default only delays start.
  const analyze = String(Math.round((opts.analyzeS ?? 2) * 1_000_000));
  const quick = ['-analyzeduration', analyze, '-probesize', '5000000'];
  if (/^rtsps?:\/\//i.test(input)) {
    const o = [...quick, '-rtsp_transport', 'tcp', '-timeout', us];
    return { args: [...o, '-i', input], probeOptions: o, url: input, live: true, exclusive: false };
  }
  if (/^udp:\/\//i.test(input)) {
    let url = withQuery(input, 'timeout', us);
    // No receive thread (fifo_size=0): its lock hand-off per datagram cost a third of the
    // receive path (docs/agent-media.md "Cost"). The kernel socket buffer absorbs stalls instead: 4 MiB asked,
    // granted up to net.core.rmem_max (the monitor warns when that is small).
    url = withQuery(url, 'fifo_size', '0');
    url = withQuery(url, 'buffer_size', String(UDP_BUFFER_BYTES));
    const o = [...quick, '-f', 'mpegts'];
    return { args: [...o, '-i', url], probeOptions: o, url, live: true, exclusive: true };
  }
  if (/^tcp:\/\//i.test(input)) {
    const url = withQuery(input, 'timeout', us);
    const o = [...quick, '-f', 'mpegts'];
    return { args: [...o, '-i', url], probeOptions: o, url, live: true, exclusive: false };
  }
  if (/^\/dev\/video\d+$/.test(input)) {
    const o = ['-f', 'v4l2'];
    return { args: [...o, '-i', input], probeOptions: o, url: input, live: true, exclusive: true };
  }
  if (input.startsWith('alsa:')) {
    const dev = input.slice('alsa:'.length) || 'default';
    const o = ['-f', 'alsa'];
    return { args: [...o, '-i', dev], probeOptions: o, url: dev, live: true, exclusive: true };
  }
  if (input.startsWith('lavfi:')) {
    const graph = input.slice('lavfi:'.length);
    const o = ['-f', 'lavfi'];
    return { args: ['-re', ...o, '-i', graph], probeOptions: o, url: graph, live: false, exclusive: false };
  }
  return { args: ['-re', '-i', input], probeOptions: [], url: input, live: false, exclusive: false };
}

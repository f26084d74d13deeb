// The synthetic classroom camera the media benches share, and the naive baseline they measure the
// agent against (docs/agent-media.md "Cost").
//
// Picture: lavfi testsrc2 (moving, textured) with temporal sensor-like noise; sound: a 440 Hz sine,
// AAC stereo 48 kHz 96 kb/s; optionally black, frozen and silent periods at given stream seconds.
// Video like a classroom IP camera: libx264 High (CABAC, deblocking) or libx265 Main, constant GOP
// (no scene cuts), `bframes` B-frames, VBV-capped at `kbps`, in MPEG-TS.
import { createSocket } from 'node:dgram';

/** The lavfi picture and sound; `faults` ({ black, frozen, silence }: [from, to] s) draws the faults in. */
export function cameraSources({ w, h, fps }, faults) {
  if (!faults) {
    return {
      v: `testsrc2=s=${w}x${h}:r=${fps},noise=alls=6:allf=t`,
      a: 'sine=f=440:r=48000,pan=stereo|c0=c0|c1=0.5*c0',
    };
  }
  const [b0, b1] = faults.black;
  const [f0, f1] = faults.frozen;
  const [s0, s1] = faults.silence;
  return {
    v:
      `testsrc2=s=${w}x${h}:r=${fps},noise=alls=6:allf=t,drawbox=enable='between(t,${b0},${b1})':c=black:t=fill,` +
      `split[a][b];[a][b]freezeframes=first=${Math.round(f0 * fps)}:last=${Math.round(f1 * fps)}:replace=${Math.round(f0 * fps)}`,
    a: `sine=f=440:r=48000,volume=enable='between(t,${s0},${s1})':volume=0,pan=stereo|c0=c0|c1=0.5*c0`,
  };
}

/** The MPEG-TS output with 4:2:0 video and the camera's AAC sound, to a file (overwritten). */
export const mpegtsFileOutput = (file) => [
  '-pix_fmt',
  'yuv420p',
  '-c:a',
  'aac',
  '-b:a',
  '96k',
  '-y',
  '-f',
  'mpegts',
  file,
];

/**
 * ffmpeg arguments that encode `seconds` of the camera's media to `out`: a file, or with `live`
 * (`-re`, real time) a tee muxer destination (teeOf).
 */
export function cameraEncoderArgs(
  { w, h, fps, gopS, bframes, kbps, codec = 'h264', preset = 'superfast' },
  { seconds, faults, out, live = false },
) {
  const hevc = codec === 'h265';
  const { v, a } = cameraSources({ w, h, fps }, faults);
  return [
    ...['-hide_banner', '-nostdin', '-loglevel', 'error', ...(live ? ['-re'] : [])],
    ...['-f', 'lavfi', '-i', v, '-f', 'lavfi', '-i', a, '-t', String(seconds), '-map', '0:v', '-map', '1:a'],
    ...['-c:v', hevc ? 'libx265' : 'libx264', '-preset', preset, '-profile:v', hevc ? 'main' : 'high'],
    ...(hevc ? ['-x265-params', 'log-level=error:scenecut=0'] : []),
    ...['-bf', String(bframes), '-g', String(Math.round(gopS * fps)), '-sc_threshold', '0'],
    ...['-b:v', `${kbps}k`, '-maxrate', `${Math.round(kbps * 1.2)}k`, '-bufsize', `${kbps}k`],
    ...(live
      ? ['-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '96k', '-f', 'tee', out]
      : mpegtsFileOutput(out)),
  ];
}

/** UDP destinations of the camera for the tee muxer; onfail=ignore: one receiver's absence does not stop the others. */
export const teeOf = (ports) =>
  ports.map((p) => `[f=mpegts:onfail=ignore]udp://127.0.0.1:${p}?pkt_size=1316`).join('|');

/** ffmpeg arguments that send a media file in real time (each packet when due), by stream copy, to `ports`. */
export const sendFileArgs = (file, ports, { loop = false } = {}) => [
  ...[
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'error',
    '-re',
    ...(loop ? ['-stream_loop', '-1'] : []),
    '-i',
    file,
  ],
  ...['-map', '0', '-c', 'copy', '-f', 'tee', teeOf(ports)],
];

/**
 * The naive baseline: one ffmpeg decoding every frame at full size with blackdetect, freezedetect,
 * silencedetect and ebur128. `input` is a udp:// url without query (opened like udpInputUrl) or
 * an rtsp:// url (interleaved TCP); `progress` adds `-progress pipe:1` (frames decoded so far).
 */
export function naiveArgs(input, { progress = false } = {}) {
  const graph = '[0:v:0]blackdetect=d=2,freezedetect=d=10[v];[0:a:0]silencedetect=n=-50dB:d=10,ebur128[a]';
  const inArgs = input.startsWith('rtsp:')
    ? ['-rtsp_transport', 'tcp', '-i', input]
    : ['-f', 'mpegts', '-i', `${input}?timeout=10000000&overrun_nonfatal=1&fifo_size=100000`];
  return [
    ...['-hide_banner', '-nostdin', '-nostats', ...(progress ? ['-progress', 'pipe:1'] : []), ...inArgs],
    ...['-filter_complex', graph, '-map', '[v]', '-map', '[a]', '-f', 'null', '-'],
  ];
}

/**
 * A UDP port that receives one more copy of the camera's stream, to date its first datagram: stream
 * time 0 for fault onsets (the sender's start-up is the camera's, not the agent's). arm() just before
 * the camera starts; arrival() waits for the datagram (at most `ms`); startedAt() is its wall time,
 * or the arming time while none has come.
 */
export async function firstDatagramMarker() {
  const socket = createSocket('udp4');
  await new Promise((r) => socket.bind(0, '127.0.0.1', r));
  let at = Date.now();
  let first;
  return {
    port: socket.address().port,
    arm() {
      at = Date.now();
      first = new Promise((resolve) =>
        socket.once('message', () => {
          at = Date.now();
          socket.close();
          resolve();
        }),
      );
    },
    arrival: (ms = 10_000) => Promise.race([first, new Promise((r) => setTimeout(r, ms))]),
    startedAt: () => at,
  };
}

import { createSocket } from 'node:dgram';

/** Seconds between the NTP epoch (1900) and the Unix epoch (1970). */
const NTP_UNIX_OFFSET_S = 2_208_988_800;

function readTimestamp(buf: Buffer, at: number): number {
  const seconds = buf.readUInt32BE(at);
  const fraction = buf.readUInt32BE(at + 4);
  return (seconds - NTP_UNIX_OFFSET_S) * 1000 + (fraction / 2 ** 32) * 1000;
}

function writeTimestamp(buf: Buffer, at: number, ms: number): void {
  const seconds = Math.floor(ms / 1000) + NTP_UNIX_OFFSET_S;
  const fraction = Math.round(((ms % 1000) / 1000) * 2 ** 32);
  buf.writeUInt32BE(seconds >>> 0, at);
  buf.writeUInt32BE(Math.min(fraction, 2 ** 32 - 1) >>> 0, at + 4);
}

/**
 * One SNTP (RFC 4330) exchange. Returns the local clock's offset from the server in ms
 * (positive = the server is ahead), ((T2 − T1) + (T3 − T4)) / 2 as in RFC 4330 §5.
 */
export function queryNtpOffset(
  server: string,
  opts: { timeoutMs?: number; now?: () => number } = {},
): Promise<number> {
  const now = opts.now ?? Date.now;
  const [host, portText] = server.includes(':') ? server.split(':') : [server, '123'];
  const port = Number(portText);
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const request = Buffer.alloc(48);
    request[0] = (0 << 6) | (4 << 3) | 3; // LI 0, version 4, mode 3 (client)
    const t1 = now();
    writeTimestamp(request, 40, t1);
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no NTP answer from ${server} in ${opts.timeoutMs ?? 2000} ms`));
    }, opts.timeoutMs ?? 2000);
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.close();
      reject(err);
    });
    socket.on('message', (msg) => {
      const t4 = now();
      if (msg.length < 48 || (msg[0]! & 0x07) !== 4) return; // not a server reply
      clearTimeout(timer);
      socket.close();
      const t2 = readTimestamp(msg, 32);
      const t3 = readTimestamp(msg, 40);
      resolve((t2 - t1 + (t3 - t4)) / 2);
    });
    socket.send(request, port, host ?? server, (err) => {
      if (err) {
        clearTimeout(timer);
        socket.close();
        reject(err);
      }
    });
  });
}

/** Test helper and reference: an SNTP server whose clock is `offsetMs` ahead of ours. */
export function encodeNtpReply(request: Buffer, serverNowMs: number): Buffer {
  const reply = Buffer.alloc(48);
  reply[0] = (0 << 6) | (4 << 3) | 4;
  reply[1] = 2; // stratum
  request.copy(reply, 24, 40, 48); // originate = client's transmit
  writeTimestamp(reply, 32, serverNowMs);
  writeTimestamp(reply, 40, serverNowMs);
  return reply;
}

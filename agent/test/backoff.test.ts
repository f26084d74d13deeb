import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF } from '../src/session/backoff.js';
import { encodeNtpReply, queryNtpOffset } from '../src/telemetry/ntp.js';

describe('reconnect backoff', () => {
  it('grows exponentially to its cap, always within [cap/2, cap]', () => {
    const caps = [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000];
    caps.forEach((cap, attempt) => {
      expect(backoffDelay(attempt, DEFAULT_BACKOFF, () => 0)).toBe(cap / 2);
      expect(backoffDelay(attempt, DEFAULT_BACKOFF, () => 1)).toBe(cap);
    });
    expect(backoffDelay(1000, DEFAULT_BACKOFF, () => 0.5)).toBe(45000);
  });

  it('spreads a fleet that lost the hub at the same moment', () => {
    const delays = Array.from({ length: 1000 }, () => backoffDelay(6, DEFAULT_BACKOFF));
    const buckets = new Set(delays.map((d) => Math.floor(d / 1000)));
    // 1000 boxes land over ~30 distinct seconds, not all in the same one.
    expect(buckets.size).toBeGreaterThan(20);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(30000);
  });
});

describe('SNTP clock offset', () => {
  it('measures the offset against a local NTP server that runs 5 s ahead', async () => {
    const server = createSocket('udp4');
    server.on('message', (msg, rinfo) =>
      server.send(encodeNtpReply(msg, Date.now() + 5000), rinfo.port, rinfo.address),
    );
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', () => r()));
    try {
      // Server and client share this event loop: on a loaded machine the reply can wait behind
      // other work, so allow more than the 2 s default for the answer.
      const before = Date.now();
      const offset = await queryNtpOffset(`127.0.0.1:${server.address().port}`, { timeoutMs: 10_000 });
      const roundTrip = Date.now() - before;
      // The server read its clock between the client's T1 and T4, so SNTP's estimate is off by at
      // most half the round trip (RFC 4330 §5); a quiet machine keeps that under 100 ms.
      const error = Math.max(100, roundTrip / 2 + 2);
      expect(offset).toBeGreaterThan(5000 - error);
      expect(offset).toBeLessThan(5000 + error);
    } finally {
      server.close();
    }
  });

  it('rejects when nobody answers', async () => {
    const silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    try {
      await expect(queryNtpOffset(`127.0.0.1:${silent.address().port}`, { timeoutMs: 200 })).rejects.toThrow(
        /no NTP answer/,
      );
    } finally {
      silent.close();
    }
  });
});

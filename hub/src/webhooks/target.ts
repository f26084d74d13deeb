// Where a webhook may be delivered (docs/hub-people.md "Webhooks", SECURITY.md). A target that resolves to
// the hub's own machine or its private networks would let whoever holds the admin token make the hub
// POST to internal services (SSRF), so such addresses are refused unless the hub runs with
// --webhook-allow-private. The check runs at registration and again on every delivery against the very
// address the socket connects to (the lookup below), so a DNS answer that changes after registration
// (DNS rebinding) cannot slip through. Redirects are never followed: a 3xx is a failed delivery.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP } from 'node:net';

const refused = new BlockList();
// IPv4 (RFC 6890 special-purpose registry): "this network", private, shared (CGNAT), loopback,
// link-local, IETF protocol assignments, documentation, benchmarking, multicast, reserved, broadcast.
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  refused.addSubnet(net, prefix, 'ipv4');
// IPv6: unspecified, loopback, unique local, link-local, site-local (deprecated), multicast,
// documentation, NAT64 (which would reach IPv4 private space). IPv4-mapped addresses (::ffff:a.b.c.d)
// are checked against the IPv4 rules by BlockList itself.
refused.addAddress('::', 'ipv6');
refused.addAddress('::1', 'ipv6');
for (const [net, prefix] of [
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
  ['2001:db8::', 32],
  ['64:ff9b::', 96],
] as const)
  refused.addSubnet(net, prefix, 'ipv6');

export class WebhookTargetError extends Error {}

/** Why an address may not be a webhook target, or null when it may. */
export function refusedAddress(address: string): string | null {
  const family = isIP(address);
  if (family === 0) return `"${address}" is not an IP address`;
  return refused.check(address, family === 4 ? 'ipv4' : 'ipv6')
    ? `${address} is a loopback, link-local, private or multicast address (start the hub with --webhook-allow-private to allow it)`
    : null;
}

/** The URL as it may be logged or shown: no password, no query string (it may carry a key). */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    const q = u.search ? '?…' : '';
    u.search = '';
    return `${u.toString()}${q}`;
  } catch {
    return '(invalid URL)';
  }
}

function lookupAll(host: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) =>
    dnsLookup(host, { all: true, verbatim: true }, (err, addrs) => (err ? reject(err) : resolve(addrs))),
  );
}

/** Registration check: every address the host resolves to must be allowed. */
export async function checkTarget(url: string, allowPrivate: boolean): Promise<void> {
  if (allowPrivate) return;
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  let addrs: LookupAddress[];
  try {
    addrs = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookupAll(host);
  } catch (err) {
    throw new WebhookTargetError(
      `cannot resolve ${host}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  for (const a of addrs) {
    const why = refusedAddress(a.address);
    if (why) throw new WebhookTargetError(`${host} resolves to ${why}`);
  }
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** A `lookup` for http.request that refuses a forbidden address at connect time. */
function guardedLookup(allowPrivate: boolean) {
  return (host: string, options: { all?: boolean }, cb: LookupCallback): void => {
    dnsLookup(host, { all: true, verbatim: true }, (err, addrs) => {
      if (err) return cb(err, []);
      if (!allowPrivate) {
        for (const a of addrs) {
          const why = refusedAddress(a.address);
          if (why)
            return cb(
              Object.assign(new WebhookTargetError(`${host} resolves to ${why}`), { code: 'EREFUSEDTARGET' }),
              [],
            );
        }
      }
      if (options.all) return cb(null, addrs);
      const first = addrs[0];
      if (!first) return cb(Object.assign(new Error(`no address for ${host}`), { code: 'ENOTFOUND' }), []);
      cb(null, first.address, first.family);
    });
  };
}

export interface PostOptions {
  headers: Record<string, string>;
  timeoutMs: number;
  allowPrivate: boolean;
}

/**
 * POSTs `body`; resolves with the HTTP status. A literal IP in the URL is checked here, a host name in
 * the lookup. Credentials in the URL become an Authorization: Basic header.
 */
export function postJson(url: string, body: string, opts: PostOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return reject(new WebhookTargetError('invalid URL'));
    }
    const host = u.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) && !opts.allowPrivate) {
      const why = refusedAddress(host);
      if (why) return reject(new WebhookTargetError(`target ${why}`));
    }
    const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
    const auth = u.username
      ? `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`
      : undefined;
    const req = request(
      {
        protocol: u.protocol,
        hostname: host,
        port: u.port || undefined,
        path: `${u.pathname}${u.search}`,
        method: 'POST',
        headers: { ...opts.headers, 'content-length': String(Buffer.byteLength(body)) },
        ...(auth ? { auth } : {}),
        lookup: guardedLookup(opts.allowPrivate) as never,
        timeout: opts.timeoutMs,
      },
      (res: IncomingMessage) => {
        // Drain (bounded by the timeout) so the socket is freed; the body is not needed.
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    const deadline = setTimeout(
      () => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)),
      opts.timeoutMs,
    );
    req.on('close', () => clearTimeout(deadline));
    req.on('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

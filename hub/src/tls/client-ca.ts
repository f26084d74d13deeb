// The hub's own CA for box client certificates (docs/hub.md "Client certificates"): kept in
// <data-dir>/client-ca/, created on the first start with TLS, and used by `agents add --cert` /
// `agents cert` to issue one certificate per box whose CN is the agent id.
import 'reflect-metadata'; // tsyringe, under @peculiar/x509, needs the Reflect metadata API
import { X509Certificate as NodeX509, randomBytes, webcrypto } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { normalizeSerial } from './client-cert.js';

x509.cryptoProvider.set(webcrypto as never);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
/** The CA outlives every certificate it issues; a box certificate is re-issued with `agents cert`. */
const CA_DAYS = 20 * 365;
export const DEFAULT_CLIENT_CERT_DAYS = 825;

export interface ClientCaFiles {
  dir: string;
  cert: string;
  key: string;
}

export function clientCaFiles(dataDir: string): ClientCaFiles {
  const dir = join(dataDir, 'client-ca');
  return { dir, cert: join(dir, 'ca.pem'), key: join(dir, 'ca.key') };
}

/** Creates the client CA if the data dir has none; returns its certificate (PEM) and whether it is new. */
export async function ensureClientCa(
  dataDir: string,
  now = Date.now(),
): Promise<{ pem: string; created: boolean }> {
  const files = clientCaFiles(dataDir);
  if (existsSync(files.cert) && existsSync(files.key))
    return { pem: readFileSync(files.cert, 'utf8'), created: false };
  mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  chmodSync(files.dir, 0o700);
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=classroom hub client CA ${randomBytes(4).toString('hex')}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + CA_DAYS * DAY_MS),
    keys: keys as never,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
    ],
  });
  const keyPem = await privateKeyPem(keys.privateKey as never);
  // Written beside and renamed, key first, so a concurrent reader sees both files or neither.
  writeFileSync(`${files.key}.tmp`, keyPem, { mode: 0o600 });
  writeFileSync(`${files.cert}.tmp`, ca.toString('pem'), { mode: 0o644 });
  renameSync(`${files.key}.tmp`, files.key);
  renameSync(`${files.cert}.tmp`, files.cert);
  return { pem: ca.toString('pem'), created: true };
}

export interface IssuedClientCertificate {
  agent: string;
  certificate: string;
  key: string;
  /** As Node's TLS reports a peer certificate's serialNumber (upper-case hex). */
  serial: string;
  notAfter: string;
}

/** Issues a client certificate for `agent` (CN = agent id, extendedKeyUsage clientAuth only). */
export async function issueClientCertificate(
  dataDir: string,
  agent: string,
  opts: { days?: number; now?: number } = {},
): Promise<IssuedClientCertificate> {
  const now = opts.now ?? Date.now();
  await ensureClientCa(dataDir, now);
  const files = clientCaFiles(dataDir);
  const ca = new x509.X509Certificate(readFileSync(files.cert, 'utf8'));
  const caKey = await webcrypto.subtle.importKey(
    'pkcs8',
    x509.PemConverter.decodeFirst(readFileSync(files.key, 'utf8')),
    ALG,
    false,
    ['sign'],
  );
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${agent}`,
    issuer: ca.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + (opts.days ?? DEFAULT_CLIENT_CERT_DAYS) * DAY_MS),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey as never,
    signingKey: caKey as never,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
      await x509.AuthorityKeyIdentifierExtension.create(ca, false),
    ],
  });
  const pem = cert.toString('pem');
  const node = new NodeX509(pem);
  return {
    agent,
    certificate: pem,
    key: await privateKeyPem(keys.privateKey as never),
    serial: normalizeSerial(node.serialNumber),
    notAfter: new Date(node.validTo).toISOString(),
  };
}

/** 16 random bytes, positive (top bit clear), never starting with a zero byte. */
function serial(): string {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 1) & 0x7f) | 0x10;
  return b.toString('hex');
}

async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return `${x509.PemConverter.encode(der, 'PRIVATE KEY')}\n`;
}

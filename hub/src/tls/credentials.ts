// The hub's TLS certificate and key (docs/hub.md "TLS"): read from files, checked before any listener
// starts, and re-read on SIGHUP. A bad pair is a ConfigError at start; on reload it is refused and the
// listeners keep the pair they have.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { ConfigError } from '../config.js';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/** What the log and the metrics say about the certificate being served. */
export interface CertificateInfo {
  subject: string;
  issuer: string;
  serialNumber: string;
  fingerprint256: string;
  validFrom: string;
  validTo: string;
  /** ms since the epoch */
  notAfter: number;
  subjectAltName: string | null;
}

export interface TlsCredentials {
  /** For tls.createServer / https and for setSecureContext on reload. */
  options: Pick<SecureContextOptions, 'cert' | 'key'>;
  info: CertificateInfo;
}

function readPem(file: string, what: 'certificate' | 'key', flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied (the hub user must be able to read it)'
          : code === 'EISDIR'
            ? 'is a directory'
            : (err as Error).message;
    throw new ConfigError(`${flag} ${file}: cannot read the TLS ${what}: ${why}`);
  }
}

/**
 * Reads and checks a certificate chain (PEM, leaf first) and its private key (PEM, unencrypted: the hub
 * starts unattended, so there is nobody to type a passphrase). Throws ConfigError naming the file and
 * the fault: unreadable, not PEM, or a key that does not belong to the certificate.
 */
export function loadTlsCredentials(files: TlsFiles): TlsCredentials {
  const cert = readPem(files.certFile, 'certificate', '--tls-cert');
  const key = readPem(files.keyFile, 'key', '--tls-key');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (err) {
    throw new ConfigError(
      `--tls-cert ${files.certFile}: not a PEM certificate (${(err as Error).message}); expected "-----BEGIN CERTIFICATE-----"`,
    );
  }
  // OpenSSL reports a missing passphrase only as "interrupted or cancelled": read the PEM's own marks.
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(key.toString('latin1'))) {
    throw new ConfigError(
      `--tls-key ${files.keyFile}: the key is encrypted; the hub needs an unencrypted key (openssl pkey -in enc.pem -out key.pem)`,
    );
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new ConfigError(`--tls-key ${files.keyFile}: not a PEM private key (${(err as Error).message})`);
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new ConfigError(
      `--tls-key ${files.keyFile} does not belong to the certificate in --tls-cert ${files.certFile} (subject ${leaf.subject.replace(/\n/g, ', ')})`,
    );
  }
  const options = { cert, key };
  try {
    // What the listeners will do with the pair: catches what X509Certificate accepts but OpenSSL's
    // context refuses (e.g. a key too weak for the security level).
    createSecureContext(options);
  } catch (err) {
    throw new ConfigError(
      `--tls-cert ${files.certFile} / --tls-key ${files.keyFile}: refused by OpenSSL: ${(err as Error).message}`,
    );
  }
  return { options, info: certificateInfo(leaf) };
}

export function certificateInfo(leaf: X509Certificate): CertificateInfo {
  return {
    subject: leaf.subject.replace(/\n/g, ', '),
    issuer: leaf.issuer.replace(/\n/g, ', '),
    serialNumber: leaf.serialNumber,
    fingerprint256: leaf.fingerprint256,
    validFrom: leaf.validFrom,
    validTo: leaf.validTo,
    notAfter: Date.parse(leaf.validTo),
    subjectAltName: leaf.subjectAltName ?? null,
  };
}

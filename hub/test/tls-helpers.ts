// A private PKI made at test time with Debian's openssl (no key is ever committed), the hub bin started
// with TLS, and `openssl s_client` as an independent TLS client.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TOKEN, waitFor } from './core-helpers.js';

export const run = promisify(execFile);
export const BIN = new URL('../bin/classroom-hub.js', import.meta.url).pathname;

export interface Issued {
  cert: string;
  key: string;
  /** Upper-case hex, as openssl and X509Certificate print it. */
  serial: string;
}

/** A CA (EC P-256, quick to make) that signs server certificates into `dir`. */
export class TestCa {
  readonly cert: string;
  private readonly key: string;

  private constructor(
    readonly dir: string,
    readonly name: string,
  ) {
    this.cert = join(dir, `${name}.pem`);
    this.key = join(dir, `${name}.key`);
  }

  static async create(dir: string, name: string): Promise<TestCa> {
    const ca = new TestCa(dir, name);
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name} test CA`,
      '-keyout',
      ca.key,
      '-out',
      ca.cert,
    ]);
    return ca;
  }

  /**
   * Issues a server certificate for `san` (e.g. "IP:127.0.0.1") as `<file>.pem` / `<file>.key`. The
   * files are written beside and renamed into place, as a renewal tool does, so a reader never sees half.
   */
  async issue(file: string, san: string, cn = 'classroom hub'): Promise<Issued> {
    const serial = randomBytes(8).toString('hex').toUpperCase().replace(/^0/, '1');
    const tmp = join(this.dir, `.${file}.${serial}`);
    const ext = `${tmp}.ext`;
    writeFileSync(ext, `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
    await run('openssl', [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      `/CN=${cn}`,
      '-keyout',
      `${tmp}.key`,
      '-out',
      `${tmp}.csr`,
    ]);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      `${tmp}.csr`,
      '-CA',
      this.cert,
      '-CAkey',
      this.key,
      '-set_serial',
      `0x${serial}`,
      '-days',
      '1',
      '-extfile',
      ext,
      '-out',
      `${tmp}.pem`,
    ]);
    const cert = join(this.dir, `${file}.pem`);
    const key = join(this.dir, `${file}.key`);
    renameSync(`${tmp}.key`, key);
    renameSync(`${tmp}.pem`, cert);
    return { cert, key, serial };
  }
}

/**
 * A certificate whose validity ended yesterday, signed by `ca` (Debian's openssl 3.0 cannot backdate
 * with `x509 -req`, so it is made with @peculiar/x509, the hub's own certificate library).
 */
export async function issueExpired(ca: TestCa, file: string, san: string): Promise<Issued> {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  const { webcrypto, randomBytes: rnd } = await import('node:crypto');
  x509.cryptoProvider.set(webcrypto as never);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const caCert = new x509.X509Certificate(readFileSync(ca.cert, 'utf8'));
  const caKey = await webcrypto.subtle.importKey(
    'pkcs8',
    x509.PemConverter.decodeFirst(readFileSync(join(ca.dir, `${ca.name}.key`), 'utf8')),
    alg,
    false,
    ['sign'],
  );
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const serial = `1${rnd(7).toString('hex').toUpperCase()}`;
  const [type, value] = san.split(':') as [string, string];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: 'CN=classroom hub',
    issuer: caCert.subject,
    notBefore: new Date(Date.now() - 3 * 86_400_000),
    notAfter: new Date(Date.now() - 86_400_000),
    signingAlgorithm: alg,
    publicKey: keys.publicKey as never,
    signingKey: caKey as never,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: type === 'IP' ? 'ip' : 'dns', value }])],
  });
  const der = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as never);
  const certFile = join(ca.dir, `${file}.pem`);
  const keyFile = join(ca.dir, `${file}.key`);
  writeFileSync(`${keyFile}.tmp`, `${x509.PemConverter.encode(der, 'PRIVATE KEY')}\n`, { mode: 0o600 });
  writeFileSync(`${certFile}.tmp`, cert.toString('pem'));
  renameSync(`${keyFile}.tmp`, keyFile);
  renameSync(`${certFile}.tmp`, certFile);
  return { cert: certFile, key: keyFile, serial };
}

export interface SClient {
  /** openssl's "Verify return code: N (text)", e.g. "0 (ok)" */
  verify: string;
  serial: string | null;
  output: string;
}

/** One handshake with `openssl s_client` against 127.0.0.1:port; reads the peer certificate's serial. */
export async function sClient(port: number, caFile: string): Promise<SClient> {
  const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', caFile], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (b: Buffer) => {
    output += b.toString();
  });
  child.stderr.on('data', (b: Buffer) => {
    output += b.toString();
  });
  child.stdin.end(); // EOF on stdin: s_client closes after the handshake
  await new Promise<void>((resolve) => child.once('close', () => resolve()));
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(output)?.[0];
  let serial: string | null = null;
  if (pem) {
    const x = spawn('openssl', ['x509', '-noout', '-serial'], { stdio: ['pipe', 'pipe', 'ignore'] });
    let text = '';
    x.stdout.on('data', (b: Buffer) => {
      text += b.toString();
    });
    x.stdin.end(pem);
    await new Promise<void>((resolve) => x.once('close', () => resolve()));
    serial = /serial=([0-9A-F]+)/i.exec(text)?.[1]?.toUpperCase() ?? null;
  }
  const verify = /Verify return code: (.*)/.exec(output)?.[1]?.trim() ?? '';
  return { verify, serial, output };
}

export interface TlsHub {
  proc: ChildProcess;
  listening: {
    mqttPort: number | null;
    mqttsPort: number | null;
    httpPort: number;
    tls: boolean;
    certificate?: { serial: string };
  };
  output(): string;
  /** Waits for a log line containing `text` after the first `after` characters of output. */
  waitLog(text: string, after?: number): Promise<string>;
  signal(sig: NodeJS.Signals): void;
  kill9(): Promise<void>;
}

/** The bin with no --mqtt-port unless `args` gives one (DESIGN.md "Hub": TLS turns plain MQTT off). */
export async function spawnTlsHub(
  dataDir: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<TlsHub> {
  const proc = spawn(
    process.execPath,
    [BIN, 'serve', '--data-dir', dataDir, '--http-port', '0', '--admin-token', TOKEN, ...args],
    {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CLASSROOM_HUB_LOG_LEVEL: 'info', ...env },
    },
  );
  let out = '';
  proc.stdout?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  proc.stderr?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const waitLog = (text: string, after = 0) =>
    waitFor(
      `hub log line with ${text}`,
      () => {
        const line = out
          .slice(after)
          .split('\n')
          .find((l) => l.includes(text));
        if (!line && proc.exitCode !== null) throw new Error(`hub exited: ${out.slice(-3000)}`);
        return line;
      },
      30_000,
    );
  const line = await waitLog('"event":"hub.listening"');
  return {
    proc,
    listening: JSON.parse(line) as TlsHub['listening'],
    output: () => out,
    waitLog,
    signal: (sig) => {
      if (proc.pid && proc.exitCode === null) process.kill(proc.pid, sig);
    },
    kill9: async () => {
      if (proc.exitCode === null && proc.pid) {
        try {
          process.kill(-proc.pid, 'SIGKILL');
        } catch {
          // already gone
        }
        await exited;
      }
    },
  };
}

/** Runs `classroom-hub serve …` expected to exit at once; returns its exit code and stderr. */
export async function serveFails(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, [BIN, 'serve', '--http-port', '0', '--admin-token', TOKEN, ...args], {
      env: { ...process.env, ...env },
      timeout: 30_000,
    });
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    return { code: e.code ?? -1, stderr: e.stderr ?? '' };
  }
  throw new Error('classroom-hub serve was expected to fail but exited 0');
}

// Resolves the hub's configuration: defaults of DESIGN.md, and the admin token kept in the data dir.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { HubConfig } from './context.js';
import { ensurePrivateDir, ensurePrivateFile } from './store/permissions.js';

export const DEFAULTS = {
  dataDir: './data',
  host: '127.0.0.1',
  mqttPort: 1883,
  mqttsPort: 8883,
  httpPort: 8080,
} as const;

export const ADMIN_TOKEN_FILE = 'admin-token';
export const DATABASE_FILE = 'hub.db';

export class ConfigError extends Error {}

export function databaseFile(dataDir: string): string {
  return join(resolve(dataDir), DATABASE_FILE);
}

/** Reads the admin token from the data dir, creating it (mode 0600) on first start. */
export function loadOrCreateAdminToken(dataDir: string): string {
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  if (existsSync(file)) {
    ensurePrivateFile(file);
    const token = readFileSync(file, 'utf8').trim();
    if (token.length >= 16) return token;
    throw new ConfigError(
      `admin token in ${file} is shorter than 16 characters; delete it to generate a new one`,
    );
  }
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return token;
}

export function resolveConfig(input: Partial<HubConfig>): HubConfig {
  const dataDir = resolve(input.dataDir ?? DEFAULTS.dataDir);
  ensurePrivateDir(dataDir);
  const port = (v: number | undefined, def: number, name: string) => {
    const p = v ?? def;
    if (!Number.isInteger(p) || p < 0 || p > 65535)
      throw new ConfigError(`${name} must be an integer 0-65535, got ${p}`);
    return p;
  };
  if (input.adminToken && input.adminToken.length < 16) {
    throw new ConfigError('--admin-token must be at least 16 characters');
  }
  if (input.broker && !/^(mqtts?|wss?):\/\//.test(input.broker)) {
    throw new ConfigError(`--broker ${input.broker}: expected an mqtt://, mqtts://, ws:// or wss:// URL`);
  }
  // DESIGN.md: `--database postgres://…` stores in PostgreSQL instead of the SQLite file in the data dir.
  if (input.database && !/^postgres(ql)?:\/\//i.test(input.database)) {
    throw new ConfigError(
      `--database ${input.database.replace(/:[^:@/]*@/, ':***@')}: expected a postgres:// or postgresql:// URL; omit it to use SQLite in ${dataDir}`,
    );
  }
  const tls = resolveTls(input);
  const host = input.host ?? DEFAULTS.host;
  return {
    dataDir,
    host,
    // docs/hub.md "TLS": with a certificate, plain MQTT runs only when a port is asked for explicitly.
    mqttPort:
      input.mqttPort === null || (input.mqttPort === undefined && tls)
        ? null
        : port(input.mqttPort, DEFAULTS.mqttPort, 'mqtt port'),
    mqttHost: input.mqttHost ?? host,
    tls,
    mqttsPort: port(input.mqttsPort, DEFAULTS.mqttsPort, 'mqtts port'),
    httpPort: port(input.httpPort, DEFAULTS.httpPort, 'http port'),
    adminToken: input.adminToken || loadOrCreateAdminToken(dataDir),
    broker: input.broker || null,
    brokerCa: input.brokerCa ? resolve(input.brokerCa) : null,
    database: input.database || null,
    webhookAllowPrivate: input.webhookAllowPrivate === true,
  };
}

function resolveTls(input: Partial<HubConfig>): HubConfig['tls'] {
  const cert = input.tls?.certFile;
  const key = input.tls?.keyFile;
  if (!cert && !key) {
    if (input.mqttsPort !== undefined)
      throw new ConfigError('--mqtts-port needs --tls-cert and --tls-key (the certificate it serves)');
    return null;
  }
  if (!cert) throw new ConfigError('--tls-key needs --tls-cert (the certificate that goes with the key)');
  if (!key) throw new ConfigError('--tls-cert needs --tls-key (the private key of the certificate)');
  return { certFile: resolve(cert), keyFile: resolve(key) };
}

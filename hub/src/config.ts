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
  return {
    dataDir,
    host: input.host ?? DEFAULTS.host,
    mqttPort: port(input.mqttPort, DEFAULTS.mqttPort, 'mqtt port'),
    httpPort: port(input.httpPort, DEFAULTS.httpPort, 'http port'),
    adminToken: input.adminToken || loadOrCreateAdminToken(dataDir),
    broker: input.broker || null,
    database: input.database || null,
    webhookAllowPrivate: input.webhookAllowPrivate === true,
  };
}

// Public entry point of @classroom/hub, for tests, simulators (`classroom-sim demo`) and benchmarks.
export { type HubOptions, type RunningHub, startHub } from './app.js';
export { Accounts, ProvisioningError } from './auth/accounts.js';
export { canPublish, canSubscribe, type Principal, type Role } from './auth/acl.js';
export { BURST_SAFE_OPTIONS } from './broker/embedded.js';
export { ConfigError, DEFAULTS, databaseFile, loadOrCreateAdminToken } from './config.js';
export * from './context.js';
export { AgentViewSchema, ErrorSchema, errorResponses } from './http/schemas.js';
export { ApiError, adminAuth, errorBody } from './http/server.js';
export { insertSql } from './ingest/commit.js';
export { toRanges } from './ingest/ingest.js';
export { AgentRegistry, SILENT_INTERVALS } from './registry/registry.js';
export { openStore, type Store } from './store/open.js';
export { PgDb, toPgPlaceholders } from './store/postgres.js';
export { migrateCore } from './store/schema.js';
export { SqliteDb } from './store/sqlite.js';
export { VERSION } from './version.js';

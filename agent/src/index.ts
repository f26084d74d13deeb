export { AgentApp, type AgentStatus, type AppOptions, type CreateMonitor } from './app.js';
export { Commands, type CommandTarget } from './commands.js';
export { type AgentConfig, AgentConfigSchema, loadConfig, parseConfig, parseSettings } from './config.js';
export { InvalidRecordError, Outbox, type OutboxLimits, type StoredRecord } from './outbox.js';
export { backoffDelay, DEFAULT_BACKOFF } from './session/backoff.js';
export { DEFAULT_SENDER_OPTIONS, Sender } from './session/sender.js';
export { openAgentDb } from './store/agent-db.js';
export { queryNtpOffset } from './telemetry/ntp.js';
export { VERSION } from './version.js';

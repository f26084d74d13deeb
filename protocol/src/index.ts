export * from './limits.js';
export * from './messages.js';
export * from './parse.js';
export * from './primitives.js';
export * from './registry.js';
export * from './topics.js';

export { DEFAULT_THRESHOLDS, withDefaults } from './defaults.js';
export { createSourceMonitor } from './monitor.js';
export { probeSource } from './probe.js';
export type * from './types.js';

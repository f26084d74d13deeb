import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AgentCounters } from './agent.js';

export interface SavedAgent extends AgentCounters {
  /** Credentials from provisioning, kept so that a rerun does not provision again. */
  password?: string;
}

export interface FleetState {
  version: 1;
  agents: Record<string, SavedAgent>;
}

/** Reads the fleet state file; a missing file is an empty state, a corrupt one is an error. */
export async function loadState(path: string | null): Promise<FleetState> {
  if (path === null) return { version: 1, agents: {} };
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, agents: {} };
    throw err;
  }
  const parsed = JSON.parse(text) as Partial<FleetState>;
  if (parsed.version !== 1 || typeof parsed.agents !== 'object' || parsed.agents === null) {
    throw new Error(`fleet state file ${path} is not a version 1 state file`);
  }
  return parsed as FleetState;
}

/** Writes atomically (temp file + rename), so a crash mid-write never loses the counters. */
export async function saveState(path: string, state: FleetState): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(state));
  await rename(tmp, path);
}

export const RESULTS_FILE: string;
export const REPORT_FILE: string;
export function upsertCase(row: object): void;
export function setSoak(soak: object): void;
export function readResults(): { cases: object[]; soak: object | null };
export function writeResults(results: object): void;
export function renderReliability(): string;

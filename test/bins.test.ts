import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// The bins are what `npm install` links into node_modules/.bin; test them as a user would run them.
const bins = [
  ['classroom-hub', 'hub'],
  ['classroom-agent', 'agent'],
  ['classroom-sim', 'simulators'],
] as const;

describe('installed bins', () => {
  for (const [bin, dir] of bins) {
    const version = (JSON.parse(readFileSync(`${dir}/package.json`, 'utf8')) as { version: string }).version;
    it(`${bin} answers --help and --version`, () => {
      const help = execFileSync(`node_modules/.bin/${bin}`, ['--help']).toString();
      expect(help).toContain(`Usage: ${bin}`);
      expect(execFileSync(`node_modules/.bin/${bin}`, ['--version']).toString().trim()).toBe(version);
    });
  }
});

// Camera credentials never leave the box (docs/agent.md "Secrets"). A real agent process watches an
// RTSP camera whose URL carries a password, on a closed loopback port, so the real ffmpeg and ffprobe
// fail and print the URL in their errors. Through the real hub process, the password must appear
// nowhere: not in stored records, births, command results or dead letters (the hub's database files
// are read byte by byte), not in the API or its CSV, not in either process's log.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeDir, tempDir } from './helpers/agent.js';
import { freePort, waitFor } from './helpers/broker.js';
import {
  addAgent,
  type Hub,
  killAll,
  type Proc,
  startAgent,
  startHub,
  writeAgentConfig,
} from './helpers/procs.js';

const PASSWORD = 'S3cretCamPass';

interface RecordView {
  record: { kind: string; type?: string; source?: string; detail?: { reason?: string } };
}
interface CommandView {
  status: string;
  error: string | null;
}

describe('camera credentials are redacted in everything the agent sends or logs', () => {
  const dirs: string[] = [];
  afterAll(() => {
    killAll();
    for (const d of dirs) removeDir(d);
  });

  it('keeps rtsp://user:pass@… out of source.down, the birth, command results and logs', async () => {
    const hubDir = tempDir('redact-hub-');
    const agentDir = tempDir('redact-agent-');
    dirs.push(hubDir, agentDir);
    const mqttPort = await freePort();
    // Nothing listens here: ffmpeg's connection is refused, and its error line names the input URL.
    const closedPort = await freePort();
    const input = `rtsp://camuser:${PASSWORD}@127.0.0.1:${closedPort}/stream`;
    const password = await addAgent(hubDir, 'box-redact', 'R-redact');
    const hub: Hub = await startHub(hubDir, mqttPort);
    const agent: Proc = startAgent(
      writeAgentConfig(agentDir, {
        agent: 'box-redact',
        room: { id: 'R-redact', name: 'Redact', building: 'B', floor: '1', campus: 'main' },
        broker: { url: `mqtt://127.0.0.1:${mqttPort}`, password, keepaliveS: 2, reconnectMinMs: 200 },
        dataDir: './data',
        sources: [{ id: 'cam', kind: 'camera', input }],
        windowS: 2,
        telemetryIntervalS: 1,
        logLevel: 'debug',
      }),
    );

    const down = await waitFor(
      async () => {
        const page = await hub.api<{ records: RecordView[] }>('/api/records?agent=box-redact&kind=event');
        return page.records.find((r) => r.record.type === 'source.down');
      },
      'a stored source.down',
      60_000,
    );
    // The reason is ffmpeg's own error line, with the URL in it, redacted.
    expect(down.record.detail?.reason).toContain(`rtsp://camuser:***@127.0.0.1:${closedPort}/stream`);

    const view = await waitFor(
      async () => {
        const v = await hub.api<{ birth: { sources: { probe: { error?: string } }[] } | null }>(
          '/api/agents/box-redact',
        );
        return v.birth?.sources[0]?.probe.error ? v : null;
      },
      'a birth with the probe error',
      60_000,
    );
    expect(view.birth?.sources[0]?.probe.error).toMatch(/ffprobe failed/);

    // A command whose error comes from the failing source.
    const { id } = await hub.api<{ id: string }>('/api/agents/box-redact/commands', {
      method: 'POST',
      body: { name: 'snapshot', args: { source: 'cam' } },
    });
    const result = await waitFor(
      async () => {
        const c = await hub.api<CommandView>(`/api/commands/${id}`);
        return c.status === 'error' || c.status === 'ok' ? c : null;
      },
      'the snapshot result',
      60_000,
    );
    expect(result.status).toBe('error');

    // The agent logged the failure (with the URL) at least once: its log is not vacuously clean.
    await waitFor(
      () => agent.output().includes('camuser:***@'),
      'the agent logging the redacted URL',
      30_000,
    );

    const csv = await fetch(`http://127.0.0.1:${hub.httpPort}/api/records?agent=box-redact&format=csv`, {
      headers: { authorization: `Bearer ${hub.token}` },
    }).then((r) => r.text());
    const api = JSON.stringify([
      await hub.api('/api/records?agent=box-redact&limit=1000'),
      await hub.api('/api/agents/box-redact'),
      await hub.api(`/api/commands/${id}`),
    ]);
    expect(api).toContain('camuser:***@');
    for (const [what, text] of [
      ['API', api],
      ['CSV', csv],
      ['agent log', agent.output()],
      ['hub log', hub.output()],
    ] as const) {
      expect(text.includes(PASSWORD), `${what} holds the camera password`).toBe(false);
    }
    // Every byte the hub stored: database, WAL and the rest of its data dir.
    for (const f of readdirSync(hubDir)) {
      const bytes = readFileSync(join(hubDir, f));
      expect(bytes.includes(Buffer.from(PASSWORD)), `${f} holds the camera password`).toBe(false);
    }
  });
});

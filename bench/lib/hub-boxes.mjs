// Shared by the hub benchmarks: the capture record every box sends, and boxes provisioned over the
// hub's API and connected with their own credentials (as real agents are).
import mqtt from 'mqtt';

/** A realistic 10 s capture window (camera with audio). */
export function captureRecord(seq) {
  const start = 1_700_000_000_000 + seq * 10_000;
  return {
    seq,
    kind: 'capture',
    source: 'cam',
    start,
    end: start + 10_000,
    video: {
      fps: 25,
      width: 1280,
      height: 720,
      keyframes: 5,
      bitrateKbps: 2000,
      blackRatio: 0,
      frozenRatio: 0,
      motion: 0.12,
    },
    audio: { rmsDb: -30, peakDb: -10, loudnessLufs: -28, silenceRatio: 0.1 },
  };
}

export async function connectClient(url, opts) {
  const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 60_000, ...opts });
  await new Promise((resolve, reject) => {
    c.once('connect', resolve);
    c.once('error', reject);
  });
  return c;
}

/** Provisions `count` boxes (box-0…) through POST /api/agents and connects each, subscribed to its acks. */
export async function connectBoxes(hub, token, count) {
  const url = `mqtt://127.0.0.1:${hub.mqttPort}`;
  const clients = [];
  for (let b = 0; b < count; b++) {
    const res = await fetch(`http://127.0.0.1:${hub.httpPort}/api/agents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ agent: `box-${b}`, room: `R${b}` }),
    });
    if (!res.ok) throw new Error(`provisioning box-${b} failed: ${res.status} ${await res.text()}`);
    const { password } = await res.json();
    const c = await connectClient(url, { clientId: `box-${b}`, username: `box-${b}`, password });
    await c.subscribeAsync(`classroom/v1/box-${b}/ack`, { qos: 0 });
    clients.push(c);
  }
  return clients;
}

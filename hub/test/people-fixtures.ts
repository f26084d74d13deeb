// Synthetic room lists for dashboard scale tests and the dashboard benchmark's browser side.

export interface SyntheticRoom {
  room: { id: string; name: string; building: string; floor: string; campus: string };
  agents: Array<Record<string, unknown>>;
}

/** buildings × floors × perFloor rooms, each with one online agent, a camera and a mic. */
export function syntheticRooms(
  buildings: number,
  floors: number,
  perFloor: number,
  now = Date.now(),
): SyntheticRoom[] {
  const out: SyntheticRoom[] = [];
  for (let b = 0; b < buildings; b++) {
    const building = `Building ${String.fromCharCode(65 + b)}`;
    for (let f = 1; f <= floors; f++) {
      for (let r = 1; r <= perFloor; r++) {
        const id = `${String.fromCharCode(65 + b)}-${f}${String(r).padStart(2, '0')}`;
        const room = { id, name: `Room ${id}`, building, floor: String(f), campus: 'Main' };
        out.push({
          room,
          agents: [
            {
              agent: `box-${id.toLowerCase()}`,
              room,
              availability: 'online',
              since: now,
              session: 1,
              lastSeen: now,
              birth: null,
              telemetry: null,
              sources: [
                { id: 'cam', kind: 'camera', label: 'Camera', probe: {}, status: 'ok', since: now },
                { id: 'mic', kind: 'microphone', label: 'Mic', probe: {}, status: 'ok', since: now },
              ],
            },
          ],
        });
      }
    }
  }
  return out;
}

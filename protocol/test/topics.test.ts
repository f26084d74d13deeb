import { describe, expect, it } from 'vitest';
import { AGENT_LEAVES, parseTopic, topics } from '../src/index.js';

describe('topics', () => {
  it('round-trips every agent leaf', () => {
    for (const leaf of AGENT_LEAVES) {
      const r = parseTopic(topics.agent('box-1', leaf));
      expect(r).toEqual({ ok: true, topic: { kind: 'agent', agent: 'box-1', leaf } });
    }
    expect(topics.cmdResult('b')).toBe('classroom/v1/b/cmd/result');
  });
  it('parses the hub and room topics', () => {
    expect(parseTopic(topics.hubState())).toEqual({ ok: true, topic: { kind: 'hub-state' } });
    expect(parseTopic(topics.roomSummary('A-101'))).toEqual({
      ok: true,
      topic: { kind: 'room-summary', room: 'A-101' },
    });
  });
  it.each([
    ['other/v1/box/state', 'does not start'],
    ['classroom/v2/box/state', 'does not start'],
    ['classroom/v1/', 'no agent level'],
    ['classroom/v1/Box/state', 'invalid agent id'],
    ['classroom/v1/box/+', 'unknown leaf'],
    ['classroom/v1/box/state/extra', 'unknown leaf'],
    ['classroom/v1/box', 'unknown leaf'],
    ['classroom/v1/hub/other', 'unknown hub topic'],
    ['classroom/v1/rooms/a%/summary', 'invalid room id'],
    ['classroom/v1/rooms/a/other', 'unknown room topic'],
    [`classroom/v1/${'x'.repeat(300)}/state`, 'longer than 256'],
  ])('refuses %s', (topic, why) => {
    const r = parseTopic(topic);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(why);
  });
  it('reserves hub and rooms as agent ids', () => {
    expect(parseTopic('classroom/v1/hub/birth').ok).toBe(false);
  });
});

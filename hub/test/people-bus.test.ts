// The people modules unsubscribe from the core bus in stop(); this pins the contract they rely on.
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createBus } from '../src/context.js';

describe('core bus contract used by the people modules', () => {
  it('off() removes exactly the listener on() added, and a throwing listener does not stop others', () => {
    const bus = createBus(new EventEmitter(), pino({ level: 'silent' }));
    const seen: string[] = [];
    const a = (e: { agent: string }) => seen.push(`a:${e.agent}`);
    const b = () => {
      throw new Error('boom');
    };
    const c = (e: { agent: string }) => seen.push(`c:${e.agent}`);
    bus.on('command.result', a);
    bus.on('command.result', b);
    bus.on('command.result', c);
    const payload = (agent: string) => ({ agent, result: { v: 1 as const, id: 'x', status: 'ok' as const } });
    bus.emit('command.result', payload('1'));
    bus.off('command.result', a);
    bus.emit('command.result', payload('2'));
    expect(seen).toEqual(['a:1', 'c:1', 'c:2']);
  });
});

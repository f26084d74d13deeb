import type { z } from 'zod';
import { LIMITS } from './limits.js';
import { LEAF_TO_MESSAGE, MESSAGES, type MessageName, type MessageOf } from './registry.js';
import type { AgentLeaf } from './topics.js';

// TextDecoder is a web standard (browsers, Node, Deno); declared here so this package needs no DOM or Node types.
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: Uint8Array): string;
}

export type ProtocolErrorCode =
  | 'too_large'
  | 'not_utf8'
  | 'bad_json'
  | 'too_deep'
  | 'forbidden_key'
  | 'bad_version'
  | 'invalid';

export interface ProtocolError {
  code: ProtocolErrorCode;
  /** Dotted path of the offending field ('' for the whole payload). */
  path: string;
  message: string;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: ProtocolError };

const decoder = new TextDecoder('utf-8', { fatal: true });
const FORBIDDEN_KEYS = ['__proto__', 'constructor', 'prototype'];

function fail(code: ProtocolErrorCode, path: string, message: string): { ok: false; error: ProtocolError } {
  return { ok: false, error: { code, path, message: path ? `${path}: ${message}` : message } };
}

/**
 * Whether the text holds more than `max` opening brackets at all: nesting deeper than `max` needs
 * that many, and a typical message has a handful. Native indexOf keeps the character-by-character
 * depth walk off the hot path (it was 3 % of the hub's main thread in the live-ingest benchmark).
 */
function openersExceed(text: string, max: number): boolean {
  let n = 0;
  for (const c of ['{', '[']) {
    for (let i = text.indexOf(c); i !== -1; i = text.indexOf(c, i + 1)) if (++n > max) return true;
  }
  return false;
}

/** Returns the nesting depth of a JSON text without parsing it (strings are skipped). */
export function jsonDepth(text: string, stopAt = Number.POSITIVE_INFINITY): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > stopAt) return max;
      }
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return max;
}

function findForbiddenKey(value: unknown, path: string[]): string | null {
  if (value === null || typeof value !== 'object') return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findForbiddenKey(value[i], [...path, String(i)]);
      if (found !== null) return found;
    }
    return null;
  }
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.includes(key)) return [...path, key].join('.');
    const found = findForbiddenKey((value as Record<string, unknown>)[key], [...path, key]);
    if (found !== null) return found;
  }
  return null;
}

/**
 * Decodes raw bytes (or text) into untrusted JSON, enforcing the size, encoding, depth and
 * key limits. Never throws.
 */
export function decodeJson(payload: Uint8Array | string): ParseResult<unknown> {
  let text: string;
  if (typeof payload === 'string') {
    if (payload.length > LIMITS.maxPayloadBytes) {
      return fail('too_large', '', `payload exceeds ${LIMITS.maxPayloadBytes} bytes`);
    }
    text = payload;
  } else {
    if (payload.byteLength > LIMITS.maxPayloadBytes) {
      return fail(
        'too_large',
        '',
        `payload of ${payload.byteLength} bytes exceeds ${LIMITS.maxPayloadBytes}`,
      );
    }
    try {
      text = decoder.decode(payload);
    } catch {
      return fail('not_utf8', '', 'payload is not valid UTF-8');
    }
  }
  if (
    openersExceed(text, LIMITS.maxJsonDepth) &&
    jsonDepth(text, LIMITS.maxJsonDepth) > LIMITS.maxJsonDepth
  ) {
    return fail('too_deep', '', `JSON nesting deeper than ${LIMITS.maxJsonDepth}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return fail('bad_json', '', `malformed JSON (${(err as Error).message.slice(0, 120)})`);
  }
  // Cheap pre-check keeps the walk off the hot path: it runs only if such a word appears at all.
  if (FORBIDDEN_KEYS.some((k) => text.includes(k))) {
    const where = findForbiddenKey(value, []);
    if (where !== null) return fail('forbidden_key', where, 'forbidden key');
  }
  return { ok: true, value };
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path.map((p) => String(p)).join('.');
}

/** Validates an already-decoded value against a schema, returning the first issue with its path. */
export function validate<S extends z.ZodType>(schema: S, value: unknown): ParseResult<z.infer<S>> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && 'v' in value) {
    const v = (value as { v: unknown }).v;
    if (v !== 1)
      return fail('bad_version', 'v', `unsupported protocol version ${JSON.stringify(v)?.slice(0, 20)}`);
  }
  const r = schema.safeParse(value);
  if (r.success) return { ok: true, value: r.data };
  const issue = r.error.issues[0];
  const path = issue ? formatPath(issue.path) : '';
  return fail('invalid', path, issue?.message ?? 'invalid message');
}

/** Decodes and validates a payload as the named message. Never throws. */
export function parseMessage<N extends MessageName>(
  name: N,
  payload: Uint8Array | string,
): ParseResult<MessageOf<N>> {
  const decoded = decodeJson(payload);
  if (!decoded.ok) return decoded;
  return validate(MESSAGES[name].schema, decoded.value) as ParseResult<MessageOf<N>>;
}

/** Decodes and validates a payload published on `classroom/v1/{agent}/{leaf}`. */
export function parseAgentPayload(leaf: AgentLeaf, payload: Uint8Array | string): ParseResult<unknown> {
  return parseMessage(LEAF_TO_MESSAGE[leaf], payload);
}

/** Makes a switch exhaustive: the compiler rejects a call reachable with a real value. */
export class UnreachableCaseError extends Error {
  constructor(value: never) {
    super(`unreachable case: ${JSON.stringify(value)}`);
  }
}

// Response schemas shared by the core routes (and usable by feature routes).
import { Availability, Birth, Room, SourceKind, SourceStatus, Telemetry } from '@classroom/protocol';
import { z } from 'zod';

export const ErrorSchema = z
  .object({ error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }) })
  .describe('The one error body of the API');

/** Standard error responses to spread into a route's `response`. */
export const errorResponses = {
  400: ErrorSchema,
  401: ErrorSchema,
  404: ErrorSchema,
  500: ErrorSchema,
} as const;

export const SourceViewSchema = z.object({
  id: z.string(),
  kind: SourceKind,
  label: z.string(),
  probe: Birth.shape.sources.element.shape.probe,
  status: SourceStatus,
  since: z.number().nullable(),
});

export const AgentViewSchema = z.object({
  agent: z.string(),
  room: Room.nullable(),
  availability: Availability,
  since: z.number(),
  session: z.number().nullable(),
  lastSeen: z.number().nullable(),
  birth: Birth.nullable(),
  telemetry: Telemetry.nullable(),
  sources: z.array(SourceViewSchema),
});

export const bearer = [{ bearer: [] }];

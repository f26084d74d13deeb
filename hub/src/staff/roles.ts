// Staff roles of the HTTP API (docs/hub-people.md, "Staff accounts"): each role may do what the one
// below it may, plus more. `public` marks the few routes that need no login at all.

export const STAFF_ROLES = ['viewer', 'operator', 'admin'] as const;
export type StaffRole = (typeof STAFF_ROLES)[number];
export type AccessRule = StaffRole | 'public';

const RANK: Record<StaffRole, number> = { viewer: 1, operator: 2, admin: 3 };

export function roleAllows(have: StaffRole, need: StaffRole): boolean {
  return RANK[have] >= RANK[need];
}

/** Who made a request: a named staff user with a session, or the admin token (automation). */
export interface StaffPrincipal {
  name: string;
  role: StaffRole;
  via: 'session' | 'token';
  /** When the session ends (ms); null for the token. */
  expiresAt: number | null;
}

/** Audit actor of the admin token: automation, not a person (docs/hub-people.md). */
export const TOKEN_ACTOR = 'admin-token';
/** Audit actor of provisioning done on the hub's own machine with the CLI. */
export const CLI_ACTOR = 'cli';

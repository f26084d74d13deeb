// Cutting a box off and re-keying it (DESIGN.md "Hub": agents disable, agents reset-password). Both write
// the account and a journal entry in one transaction; the running hub applies the entry within its poll
// interval (auth/watch.ts), so they work the same from the CLI while the hub runs and from the API.
import { generateSecret, hashSecret } from '../auth/secrets.js';
import type { Db } from '../context.js';

export class AgentControlError extends Error {
  readonly code = 'not_found';
}

async function requireAgent(db: Db, agent: string): Promise<void> {
  const row = await db.get<{ role: string }>('SELECT role FROM accounts WHERE username = ?', [agent]);
  if (row?.role !== 'agent') throw new AgentControlError(`no agent "${agent.slice(0, 80)}"`);
}

/** A new password for the box; the old one is refused from now on and its live session is closed. */
export async function resetAgentPassword(
  db: Db,
  agent: string,
  now = Date.now(),
): Promise<{ agent: string; username: string; password: string }> {
  const password = generateSecret();
  const hash = await hashSecret(password);
  await db.transaction(async () => {
    await requireAgent(db, agent);
    await db.run('UPDATE accounts SET secret_hash = ?, updated_at = ? WHERE username = ?', [
      hash,
      now,
      agent,
    ]);
    await db.run('INSERT INTO account_changes (ts, username, action) VALUES (?, ?, ?)', [
      now,
      agent,
      'agent.reset-password',
    ]);
  });
  return { agent, username: agent, password };
}

/** Disables (closes its connection, refuses new ones) or re-enables a box. */
export async function setAgentDisabled(
  db: Db,
  agent: string,
  disabled: boolean,
  now = Date.now(),
): Promise<{ agent: string; disabled: boolean }> {
  await db.transaction(async () => {
    await requireAgent(db, agent);
    await db.run('UPDATE accounts SET disabled = ? WHERE username = ?', [disabled ? 1 : 0, agent]);
    await db.run('INSERT INTO account_changes (ts, username, action) VALUES (?, ?, ?)', [
      now,
      agent,
      disabled ? 'agent.disable' : 'agent.enable',
    ]);
  });
  return { agent, disabled };
}

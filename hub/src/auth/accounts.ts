// Provisioning and authentication of MQTT accounts. Both the CLI (`classroom-hub agents add`, a separate
// process) and the running hub write the same `accounts` table; the hub reads it on every CONNECT, so a
// new box can connect at once (issue 3, provisioning).
import { isValidAgentId, ROOM_ID_PATTERN } from '@classroom/protocol';
import type { Db } from '../context.js';
import type { Principal, Role } from './acl.js';
import { generateSecret, hashSecret, VerifiedCache, verifySecret } from './secrets.js';

export interface Credentials {
  agent?: string;
  account?: string;
  role: Role;
  username: string;
  password: string;
}

interface AccountRow {
  username: string;
  role: Role;
  room: string | null;
  name: string | null;
  secret_hash: string;
  disabled?: number | null;
}

export class ProvisioningError extends Error {
  constructor(
    message: string,
    readonly code: 'invalid' | 'conflict',
  ) {
    super(message);
  }
}

/** The account exists and the password is right, but it is disabled (`classroom-hub agents disable`). */
export class AccountDisabledError extends Error {}

export interface AgentAccountInput {
  agent: string;
  room: string;
  name?: string | undefined;
  /** Replace the password of an existing agent instead of refusing. */
  rotate?: boolean | undefined;
}

export class Accounts {
  private readonly cache = new VerifiedCache();

  constructor(private readonly db: Db) {}

  /** Creates an agent account and returns its new password (shown once, stored only hashed). */
  async addAgent(input: AgentAccountInput, now = Date.now()): Promise<Credentials & { agent: string }> {
    if (!isValidAgentId(input.agent)) {
      throw new ProvisioningError(
        `invalid agent id "${input.agent}": must match ^[a-z0-9][a-z0-9._-]{0,63}$ and not be "hub" or "rooms"`,
        'invalid',
      );
    }
    if (!ROOM_ID_PATTERN.test(input.room)) {
      throw new ProvisioningError(
        `invalid room id "${input.room}": must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`,
        'invalid',
      );
    }
    const password = generateSecret();
    const hash = await hashSecret(password);
    await this.db.transaction(async () => {
      const existing = await this.db.get<AccountRow>('SELECT * FROM accounts WHERE username = ?', [
        input.agent,
      ]);
      if (existing && !(input.rotate && existing.role === 'agent')) {
        throw new ProvisioningError(
          existing.role === 'agent'
            ? `agent "${input.agent}" already exists (use --rotate to issue a new password)`
            : `username "${input.agent}" is taken by a ${existing.role} account`,
          'conflict',
        );
      }
      if (existing) {
        await this.db.run(
          'UPDATE accounts SET room = ?, name = ?, secret_hash = ?, updated_at = ? WHERE username = ?',
          [input.room, input.name ?? existing.name, hash, now, input.agent],
        );
      } else {
        await this.db.run(
          `INSERT INTO accounts (username, role, room, name, secret_hash, created_at, updated_at)
           VALUES (?, 'agent', ?, ?, ?, ?, ?)`,
          [input.agent, input.room, input.name ?? null, hash, now, now],
        );
      }
    });
    return { agent: input.agent, role: 'agent', username: input.agent, password };
  }

  /** Creates a `platform` role account: it may subscribe to `classroom/v1/rooms/#` and nothing else. */
  async addPlatform(
    name: string,
    rotate = false,
    now = Date.now(),
  ): Promise<Credentials & { account: string }> {
    // Same alphabet as agent ids so that the name can be an MQTT username and never a topic level of note.
    if (!isValidAgentId(name)) {
      throw new ProvisioningError(
        `invalid account name "${name}": must match ^[a-z0-9][a-z0-9._-]{0,63}$`,
        'invalid',
      );
    }
    const password = generateSecret();
    const hash = await hashSecret(password);
    await this.db.transaction(async () => {
      const existing = await this.db.get<AccountRow>('SELECT * FROM accounts WHERE username = ?', [name]);
      if (existing && !(rotate && existing.role === 'platform')) {
        throw new ProvisioningError(
          `username "${name}" already exists (${existing.role} account)`,
          'conflict',
        );
      }
      if (existing) {
        await this.db.run('UPDATE accounts SET secret_hash = ?, updated_at = ? WHERE username = ?', [
          hash,
          now,
          name,
        ]);
      } else {
        await this.db.run(
          `INSERT INTO accounts (username, role, room, name, secret_hash, created_at, updated_at)
           VALUES (?, 'platform', NULL, ?, ?, ?, ?)`,
          [name, name, hash, now, now],
        );
      }
    });
    return { account: name, role: 'platform', username: name, password };
  }

  /** Known agent accounts with their provisioned room. */
  async listAgents(): Promise<Array<{ agent: string; room: string | null; name: string | null }>> {
    const rows = await this.db.all<AccountRow>(
      "SELECT username, room, name FROM accounts WHERE role = 'agent' ORDER BY username",
    );
    return rows.map((r) => ({ agent: r.username, room: r.room, name: r.name }));
  }

  /**
   * Checks a username/password pair; null when unknown or wrong. Reads the table every time so an
   * account added by another process is usable at once.
   */
  async authenticate(username: string, password: string): Promise<Principal | null> {
    const row = await this.db.get<AccountRow>(
      'SELECT username, role, secret_hash, disabled FROM accounts WHERE username = ?',
      [username],
    );
    if (!row) return null;
    if (!this.cache.has(username, password, row.secret_hash)) {
      if (!(await verifySecret(password, row.secret_hash))) return null;
      this.cache.add(username, password, row.secret_hash);
    }
    // Told only to a client that knows the password, so it reveals nothing to a guesser.
    if (Number(row.disabled ?? 0) !== 0) throw new AccountDisabledError(`account ${username} is disabled`);
    return { username, role: row.role };
  }
}

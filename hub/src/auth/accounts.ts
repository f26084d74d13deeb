// Provisioning and authentication of MQTT accounts. Both the CLI (`classroom-hub agents add`, a separate
// process) and the running hub write the same `accounts` table; the hub reads it on every CONNECT, so a
// new box can connect at once (docs/hub.md "Provisioning").
import { isValidAgentId, ROOM_ID_PATTERN } from '@classroom/protocol';
import type { Db } from '../context.js';
import type { Principal, Role } from './acl.js';
import { generateSecret, hashSecret, VerifiedCache, verifySecret } from './secrets.js';

export interface AccountsOptions {
  /** The scrypt check; injectable so a unit test can see that it runs (an unknown user costs the same). */
  verify?: (secret: string, stored: string) => Promise<boolean>;
}

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
    readonly code: 'invalid' | 'conflict' | 'not_found',
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
  private readonly verify: (secret: string, stored: string) => Promise<boolean>;
  /**
   * A hash of a random secret with the parameters of real ones: an unknown username is checked against
   * it, so that it costs the same scrypt time as a wrong password and timing does not tell which
   * agent ids exist (docs/hub.md, "Abuse limits").
   */
  private dummyHash: Promise<string> | null = null;

  constructor(
    private readonly db: Db,
    opts: AccountsOptions = {},
  ) {
    this.verify = opts.verify ?? verifySecret;
  }

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
      'SELECT username, role, room, secret_hash, disabled FROM accounts WHERE username = ?',
      [username],
    );
    if (!row) {
      this.dummyHash ??= hashSecret(generateSecret());
      await this.verify(password, await this.dummyHash);
      return null;
    }
    const who: Principal = { username, role: row.role, room: row.room };
    if (!this.cache.has(username, password, row.secret_hash)) {
      if (!(await this.verify(password, row.secret_hash))) return null;
      this.cache.add(username, password, row.secret_hash);
    }
    // Told only to a client that knows the password, so it reveals nothing to a guesser.
    if (Number(row.disabled ?? 0) !== 0) throw new AccountDisabledError(`account ${username} is disabled`);
    return who;
  }

  /**
   * The agent whose current client certificate has this CN and serial (docs/hub.md "Client
   * certificates"); null for an unknown agent, a platform account, or a replaced certificate.
   */
  async certificatePrincipal(cn: string, serial: string): Promise<Principal | null> {
    const row = await this.db.get<AccountRow & { cert_serial: string | null }>(
      'SELECT username, role, room, cert_serial, disabled FROM accounts WHERE username = ?',
      [cn],
    );
    if (row?.role !== 'agent' || !row.cert_serial || row.cert_serial !== serial) return null;
    if (Number(row.disabled ?? 0) !== 0) throw new AccountDisabledError(`account ${cn} is disabled`);
    return { username: row.username, role: row.role, room: row.room };
  }

  async isAgent(username: string): Promise<boolean> {
    const row = await this.db.get<AccountRow>('SELECT username, role FROM accounts WHERE username = ?', [
      username,
    ]);
    return row?.role === 'agent';
  }

  /** Records the serial of an agent's newly issued client certificate; any earlier one stops working. */
  async setCertificateSerial(agent: string, serial: string): Promise<void> {
    const row = await this.db.get<AccountRow>('SELECT username, role FROM accounts WHERE username = ?', [
      agent,
    ]);
    if (row?.role !== 'agent')
      throw new ProvisioningError(`unknown agent "${agent.slice(0, 80)}"`, 'not_found');
    // updated_at is left alone: it tells the hub of room moves (agentRoomsChangedSince).
    await this.db.run('UPDATE accounts SET cert_serial = ? WHERE username = ?', [serial, agent]);
  }

  /**
   * Moves an agent to another room (`classroom-hub agents move`): the provisioned room is authoritative
   * for everything the box sends from now on (DESIGN.md "A box is only itself"). Returns the old room.
   */
  async moveAgent(
    agent: string,
    room: string,
    opts: { name?: string | undefined; now?: number } = {},
  ): Promise<{ agent: string; room: string; previousRoom: string | null }> {
    const now = opts.now ?? Date.now();
    if (!ROOM_ID_PATTERN.test(room)) {
      throw new ProvisioningError(
        `invalid room id "${room.slice(0, 80)}": must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`,
        'invalid',
      );
    }
    return this.db.transaction(async () => {
      const row = await this.db.get<AccountRow>(
        'SELECT username, role, room FROM accounts WHERE username = ?',
        [agent],
      );
      if (row?.role !== 'agent') {
        throw new ProvisioningError(`unknown agent "${agent.slice(0, 80)}"`, 'not_found');
      }
      // The display name belonged to the old room; a birth naming the new one brings the real one.
      await this.db.run('UPDATE accounts SET room = ?, name = ?, updated_at = ? WHERE username = ?', [
        room,
        opts.name ?? null,
        now,
        agent,
      ]);
      return { agent, room, previousRoom: row.room };
    });
  }

  /** Agent rooms changed at or after `since` (ms): how the hub learns of a move made by the CLI. */
  async agentRoomsChangedSince(
    since: number,
  ): Promise<Array<{ agent: string; room: string | null; name: string | null; updatedAt: number }>> {
    const rows = await this.db.all<AccountRow & { updated_at: number | string }>(
      "SELECT username, room, name, updated_at FROM accounts WHERE role = 'agent' AND updated_at >= ?",
      [since],
    );
    return rows.map((r) => ({
      agent: r.username,
      room: r.room,
      name: r.name,
      updatedAt: Number(r.updated_at),
    }));
  }
}

import { entryOf } from './entry.ts';

/**
 * Who is online, per scope (e.g. a company), with a time to live: an entry not refreshed in time
 * goes away on its own. In memory by default; the Redis plugin shares it between instances.
 */
export interface PresenceStore {
  /** Marks `member` online in `scope` for `ttlMs` (call again to extend). */
  set(scope: string, member: string, ttlMs: number): Promise<void>;
  remove(scope: string, member: string): Promise<void>;
  isOnline(scope: string, member: string): Promise<boolean>;
  /** Every member of the scope online now. */
  online(scope: string): Promise<string[]>;
}

export class MemoryPresenceStore implements PresenceStore {
  readonly #scopes = new Map<string, Map<string, number>>();

  async set(scope: string, member: string, ttlMs: number): Promise<void> {
    entryOf(this.#scopes, scope, () => new Map<string, number>()).set(member, Date.now() + ttlMs);
  }

  async remove(scope: string, member: string): Promise<void> {
    this.#scopes.get(scope)?.delete(member);
  }

  async isOnline(scope: string, member: string): Promise<boolean> {
    return (this.#scopes.get(scope)?.get(member) ?? 0) > Date.now();
  }

  async online(scope: string): Promise<string[]> {
    const now = Date.now();
    const members = this.#scopes.get(scope);
    if (!members) return [];
    for (const [member, expiresAt] of members) if (expiresAt <= now) members.delete(member);
    return [...members.keys()];
  }
}

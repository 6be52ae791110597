import type { EntityManager } from '@mikro-orm/sql';
import { AtriumError } from '../graphql/errors.ts';
import { buildAbility, type AppAbility } from './ability.ts';
import type { PermissionDefinition, PermissionRegistry } from './permissions.ts';
import { CompanyModule, type SystemRole } from '../tenancy/entities.ts';
import type { ResolvedPlugin } from '../plugin/registry.ts';
import { parseDependency } from '../plugin/registry.ts';
import { entryOf } from '../shared/entry.ts';

/** Who is calling, inside which company, allowed to do what. */
export interface Viewer {
  kind: 'user' | 'apiKey';
  /** The user, or the API key's id. */
  id: string;
  companyId: string;
  systemRole: SystemRole;
  branchIds: readonly string[];
  /** Modules enabled for the company (plan, overrides and dependencies applied). */
  modules: ReadonlySet<string>;
  /** Permission keys held (only keys of enabled modules grant anything). */
  keys: ReadonlySet<string>;
  ability: AppAbility;
}

/** The facts a viewer is built from, as loaded from the database. */
export interface ViewerFacts {
  kind: 'user' | 'apiKey';
  id: string;
  companyId: string;
  systemRole: SystemRole;
  branchIds: string[];
  roleKeys: string[];
  planModules: string[];
  overrides: { module: string; enabled: boolean | null }[];
}

/**
 * Modules enabled for a company: its plan's, plus overrides switched on, minus overrides switched
 * off — and a module whose dependencies are not all enabled is off too.
 */
export function enabledModules(installed: readonly ResolvedPlugin[], planModules: readonly string[], overrides: ViewerFacts['overrides']): Set<string> {
  const wanted = new Set(planModules);
  for (const override of overrides) {
    if (override.enabled === true) wanted.add(override.module);
    if (override.enabled === false) wanted.delete(override.module);
  }
  const enabled = new Set<string>();
  // Modules come in dependency order, so each module's dependencies are decided before it.
  for (const { plugin } of installed) {
    if (wanted.has(plugin.name) && (plugin.dependsOn ?? []).every((d) => enabled.has(parseDependency(d).name))) enabled.add(plugin.name);
  }
  return enabled;
}

/** Builds the viewer from its facts: OWNER/ADMIN hold every key of the enabled modules, MEMBERs their roles' keys. */
export function buildViewer(facts: ViewerFacts, installed: readonly ResolvedPlugin[], registry: PermissionRegistry): Viewer {
  const modules = enabledModules(installed, facts.planModules, facts.overrides);
  const available = registry.forModules(modules);
  let grants: PermissionDefinition[];
  if (facts.systemRole === 'MEMBER') {
    const held = new Set(facts.roleKeys);
    grants = available.filter((p) => held.has(p.key));
  } else {
    grants = available;
  }
  return {
    kind: facts.kind,
    id: facts.id,
    companyId: facts.companyId,
    systemRole: facts.systemRole,
    branchIds: facts.branchIds,
    modules,
    keys: new Set(grants.map((g) => g.key)),
    ability: buildAbility({ userId: facts.kind === 'user' ? facts.id : undefined, systemRole: facts.systemRole, branchIds: facts.branchIds, grants }),
  };
}

/** Loads the module overrides of a company (tenant-filtered em or system em with a company). */
export async function loadOverrides(em: EntityManager, companyId: string): Promise<ViewerFacts['overrides']> {
  const rows = await em.find(CompanyModule, { companyId }, { filters: false });
  return rows.map((row) => ({ module: row.module, enabled: row.enabled ?? null }));
}

/** UNAUTHENTICATED unless someone signed in. */
export function requireViewer(context: { viewer: Viewer | null; authError?: AtriumError }): Viewer {
  if (context.viewer) return context.viewer;
  throw context.authError ?? new AtriumError('UNAUTHENTICATED', 'Sign in first');
}

/** FORBIDDEN unless the caller holds the permission key. */
export function requirePermission(context: { viewer: Viewer | null; authError?: AtriumError }, key: string): Viewer {
  const viewer = requireViewer(context);
  if (!viewer.keys.has(key)) throw new AtriumError('FORBIDDEN', `This needs the permission ${key}`);
  return viewer;
}

const viewerFacts = new WeakMap<Viewer, Map<string, Promise<unknown>>>();
/** Facts kept per viewer (one per inbox or record chat it was asked about): a long-lived viewer starts over past it. */
const MAX_FACTS_PER_VIEWER = 1000;

/**
 * A fact a module grants access by and keeps in its own tables (membership of an inbox, say), read
 * once per built viewer: a viewer is built again whenever its user's access stamp moves, so whoever
 * changes such a fact calls `accessChanged` for the users it concerns. Every request and live event
 * of the viewer then answers it from memory; a failed read is not kept.
 */
export function viewerFact<T>(viewer: Viewer, key: string, read: () => Promise<T>): Promise<T> {
  const facts = entryOf(viewerFacts, viewer, () => new Map<string, Promise<unknown>>());
  let fact = facts.get(key) as Promise<T> | undefined;
  if (!fact) {
    if (facts.size >= MAX_FACTS_PER_VIEWER) facts.clear();
    fact = read();
    facts.set(key, fact);
    fact.catch(() => facts.delete(key));
  }
  return fact;
}

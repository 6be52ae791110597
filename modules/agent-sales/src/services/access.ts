import { AtriumError, forbidden, requireViewer, User, isId, type EntityManager, type Viewer } from '@atrium/core';
import { ANALYTICS_READ, SALE_CREATE, TRANSFER_MANAGE } from '../permissions.ts';

/** The office: manages transfers, so sees every agent's stock and records. */
export const isOffice = (viewer: Viewer): boolean => viewer.keys.has(TRANSFER_MANAGE);

/** Whoever may look at every agent's stock, transfers and sales (the office and analysts). */
export const seesAllAgents = (viewer: Viewer): boolean => viewer.keys.has(TRANSFER_MANAGE) || viewer.keys.has(ANALYTICS_READ);

/** The caller as an agent: a user holding agentSales.sale.create (API keys sell nothing). */
export function isAgent(viewer: Viewer): boolean {
  return viewer.kind === 'user' && viewer.keys.has(SALE_CREATE);
}

/** FORBIDDEN unless the caller is an agent; answers the viewer. */
export function requireAgent(context: { viewer: Viewer | null; authError?: AtriumError }): Viewer {
  const viewer = requireViewer(context);
  if (!isAgent(viewer)) throw forbidden(`This needs the permission ${SALE_CREATE} (and a user, not an API key)`);
  return viewer;
}

/** Whether the viewer may see this agent's stock and records: the agent themself, or the office. */
export const canSeeAgent = (viewer: Viewer, agentId: string): boolean => seesAllAgents(viewer) || (isAgent(viewer) && viewer.id === agentId);

/**
 * The agent's stock and records are visible to the viewer, and the agent is a user of the company:
 * FORBIDDEN for an agent looking at another (whether or not that id exists), NOT_FOUND for an id that
 * is not a user of the company (another company's included).
 */
export async function requireVisibleAgent(em: EntityManager, viewer: Viewer, agentId: string): Promise<User> {
  if (!canSeeAgent(viewer, agentId)) throw forbidden("You may see only your own stock and sales");
  const agent = isId(agentId) ? await em.findOne(User, { id: agentId }) : null;
  if (!agent) throw new AtriumError('NOT_FOUND', 'Agent not found');
  return agent;
}

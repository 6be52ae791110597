import type { Emit, EntityManager, Publish, Viewer } from '@atrium/core';

/** What an agent-sales service needs from its request, once the caller's permission is checked. */
export interface AgentSalesContext {
  em: EntityManager;
  viewer: Viewer;
  emit: Emit;
  publish: Publish;
}

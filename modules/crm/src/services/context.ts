import type { Emit, EntityManager, Viewer } from '@atrium/core';

/** What a CRM service needs from its request, once the caller's permission is checked. */
export interface CrmContext {
  em: EntityManager;
  viewer: Viewer;
  emit: Emit;
}

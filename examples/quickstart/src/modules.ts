import type { AtriumPlugin } from '@atrium/core';
import crm from '@atrium/crm';

/**
 * Every module in this repository. The quickstart serves them all; `npm run schema` composes the
 * published schema (docs/schema.graphql) from the same list.
 */
export const modules: AtriumPlugin<any>[] = [crm];

import type { EntityManager } from '@mikro-orm/core';
import type { AtriumConfig } from './config.ts';
import type { Publish } from '../graphql/subscriptions.ts';

/** What every resolver finds in its GraphQL context, next to mercurius' own fields. */
export interface AtriumRequestContext {
  /** An EntityManager forked for this request (or subscription). */
  em: EntityManager;
  config: AtriumConfig;
  publish: Publish;
  /** Called by `subscription()` once a subscription listens to its topic. */
  subscriptionStarted(): void;
}

declare module 'mercurius' {
  interface MercuriusContext extends AtriumRequestContext {}
}

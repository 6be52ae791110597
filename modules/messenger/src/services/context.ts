import { afterCommit, type Emit, type EntityManager, type Kernel, type Publish, type ResolverContext, type TenantFilterParams, type Viewer } from '@atrium/core';
import type { AttachmentStorage } from './attachments.ts';
import { publishNow, type ConversationEvent } from './realtime.ts';
import type { RoomDeclaration } from '../permissions.ts';

/** What an app's messenger was configured with (`defineMessenger(options)`), defaults applied. */
export interface MessengerOptions {
  rooms: readonly RoomDeclaration[];
  storage: AttachmentStorage;
  /** Largest attachment accepted, in bytes (decoded). */
  maxAttachmentBytes: number;
}

/**
 * Each app's options, by its kernel: one process may run several apps (tests do), each with its own
 * `defineMessenger(...)`. Set by the plugin's `setup`.
 */
const optionsByKernel = new WeakMap<Kernel, MessengerOptions>();

export function setMessengerOptions(kernel: Kernel, options: MessengerOptions): void {
  optionsByKernel.set(kernel, options);
}

export function messengerOptions(kernel: Kernel): MessengerOptions {
  const options = optionsByKernel.get(kernel);
  if (!options) throw new Error('The messenger module is not set up in this app');
  return options;
}

/** What a messenger service works with: the request's parts, and the live events to publish once its transaction commits. */
export interface MessengerContext {
  em: EntityManager;
  /** Null for the public widget (it acts for a contact) and for jobs. */
  viewer: Viewer | null;
  kernel: Kernel;
  emit: Emit;
  publish: Publish;
  options: MessengerOptions;
  /** Live events to publish once the transaction commits (see `transact`). */
  live: ConversationEvent[];
  /** Undoes side effects outside the database (stored attachment files) if the transaction fails. */
  undo: (() => Promise<void>)[];
}

/** The messenger context of a GraphQL request (or subscription). */
export function messengerContext(context: ResolverContext): MessengerContext {
  return serviceContext(context.kernel, context.em, context.viewer, context.publish, context.emit);
}

/** A messenger context without a GraphQL request: a job, a listener, another module's call. */
export function serviceContext(kernel: Kernel, em: EntityManager, viewer: Viewer | null, publish: Publish, emit: Emit = kernel.events.emit): MessengerContext {
  return { em, viewer, kernel, emit, publish, options: messengerOptions(kernel), live: [], undo: [] };
}

/** The company an EntityManager is scoped to. */
export function companyIdOf(em: EntityManager): string {
  const companyId = em.getFilterParams<TenantFilterParams>('tenant')?.companyId;
  if (!companyId) throw new Error('The EntityManager is not scoped to a company');
  return companyId;
}

/**
 * Runs `work` in a transaction; once it commits, publishes the live events it queued (so that a
 * rolled-back change is never seen live) — once the caller's transaction commits, when this one runs
 * inside it (a record chat opened with its record). When it fails, undoes what it did outside the
 * database.
 */
export async function transact<T>(ctx: MessengerContext, work: (tx: EntityManager) => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await ctx.em.transactional(async (tx) => {
      const done = await work(tx as EntityManager);
      const live = ctx.live.splice(0);
      await afterCommit(tx as EntityManager, () => publishAll(ctx, live));
      return done;
    });
  } catch (error) {
    ctx.live.length = 0;
    for (const undo of ctx.undo.splice(0)) await undo().catch(() => {});
    throw error;
  }
  ctx.undo.length = 0;
  return result;
}

async function publishAll(ctx: MessengerContext, events: ConversationEvent[]): Promise<void> {
  for (const event of events) await publishNow(ctx, event);
}

/** Publishes the queued live events (in the order they were queued). */
export function flushLive(ctx: MessengerContext): Promise<void> {
  return publishAll(ctx, ctx.live.splice(0));
}

import type { IResolvers } from 'mercurius';
import { AtriumError } from '../graphql/errors.ts';
import type { ComposedSchema } from '../graphql/compose.ts';
import { deliverOnlyWhile } from '../graphql/delivery.ts';
import type { Viewer } from './viewer.ts';

/** What the gate reads from a resolver's context. */
export interface GateContext {
  viewer: Viewer | null;
  authError?: AtriumError;
  refreshViewer?: () => Viewer | null | Promise<unknown>;
}

type FieldResolver = (root: unknown, args: unknown, context: GateContext, info: unknown) => unknown;

/**
 * Plan gating: a module's root fields and the fields it adds to other modules' types need a signed-in
 * caller (unless declared public) whose company has the module enabled; otherwise UNAUTHENTICATED or
 * MODULE_DISABLED. Subscriptions are checked when they start.
 */
export function assertModuleEnabled(context: GateContext, module: string, isPublic = false): void {
  if (context.viewer) {
    if (!context.viewer.modules.has(module)) throw new AtriumError('MODULE_DISABLED', `The module "${module}" is not enabled for your company`, { module });
    return;
  }
  if (!isPublic) throw context.authError ?? new AtriumError('UNAUTHENTICATED', 'Sign in first');
}

const ROOTS = new Set(['Query', 'Mutation', 'Subscription']);

/**
 * Passes events of a stream on while the module stays enabled for the subscriber's company (for a
 * module's own streams; those of `subscription()` yield nothing and check `deliverOnlyWhile`). Not
 * a generator: an ending subscription must reach the inner stream at once, even while it waits.
 */
function whileEnabled<T>(stream: AsyncIterable<T>, context: GateContext, module: string): AsyncIterable<T> {
  const events = stream[Symbol.asyncIterator]();
  return {
    [Symbol.asyncIterator]: () => ({
      async next() {
        for (;;) {
          const event = await events.next();
          if (event.done || context.viewer === null) return event;
          let viewer: Viewer | null | Promise<unknown> = context.refreshViewer?.() ?? context.viewer;
          while (viewer instanceof Promise) {
            await viewer.catch(() => undefined);
            viewer = context.refreshViewer!();
          }
          if (viewer?.modules.has(module)) return event;
        }
      },
      return: () => events.return?.() ?? Promise.resolve({ done: true as const, value: undefined }),
    }),
  };
}

/** Wraps one module's resolvers with its gate; adds gated default resolvers to the fields it adds to other types. */
export function gateResolvers(module: string, resolvers: IResolvers, schema: ComposedSchema, publicFields: readonly string[]): IResolvers {
  const open = new Set(publicFields);
  const gated: Record<string, Record<string, unknown>> = {};
  const guard = (field: string, resolve: FieldResolver): FieldResolver => {
    const isPublic = open.has(field);
    return (root, args, context, info) => {
      assertModuleEnabled(context, module, isPublic);
      return resolve(root, args, context, info);
    };
  };

  for (const [typeName, fields] of Object.entries(resolvers)) {
    if (typeof fields !== 'object' || fields === null) {
      gated[typeName] = fields as never;
      continue;
    }
    const addsToOther = (field: string) => schema.typeOwners.get(typeName) !== module && schema.fieldOwners.get(`${typeName}.${field}`) === module;
    const out: Record<string, unknown> = {};
    for (const [field, resolver] of Object.entries(fields as Record<string, unknown>)) {
      if (typeName === 'Subscription' && resolver && typeof resolver === 'object' && 'subscribe' in resolver) {
        const subscriptionResolver = resolver as { subscribe: FieldResolver };
        const isPublic = open.has(field);
        out[field] = {
          ...subscriptionResolver,
          // Checked when it starts, and again before each event: a plan change stops delivery too.
          subscribe: async (root: unknown, args: unknown, context: GateContext, info: unknown) => {
            assertModuleEnabled(context, module, isPublic);
            // (A subscriber still signed in; anonymous ones are on public subscriptions.)
            deliverOnlyWhile(context, (viewer) => !viewer || viewer.modules.has(module));
            const stream = (await subscriptionResolver.subscribe(root, args, context, info)) as AsyncIterable<unknown>;
            return whileEnabled(stream, context, module);
          },
        };
      } else if (typeof resolver === 'function' && (ROOTS.has(typeName) || addsToOther(field))) {
        out[field] = guard(field, resolver as FieldResolver);
      } else {
        out[field] = resolver;
      }
    }
    gated[typeName] = out;
  }

  // Fields a module adds to another module's type without a resolver of its own still need the gate.
  for (const [key, owner] of schema.fieldOwners) {
    if (owner !== module) continue;
    const [typeName, field] = key.split('.') as [string, string];
    if (ROOTS.has(typeName) || schema.typeOwners.get(typeName) === module) continue;
    gated[typeName] ??= {};
    gated[typeName][field] ??= guard(field, (root) => (root as Record<string, unknown>)[field]);
  }
  return gated as IResolvers;
}

import type { MercuriusContext } from 'mercurius';
import type { GraphQLResolveInfo } from 'graphql';
import { deliverDirectly, deliveryChecksPass, type DeliveryEvent } from './delivery.ts';
import { entryOf } from '../shared/entry.ts';
import type { Viewer } from '../access/viewer.ts';

declare const payloadType: unique symbol;

/**
 * A pub/sub topic name that carries the type of its payload, so that `publish` and the
 * subscription resolvers agree. Build one with `topic()`.
 */
export type Topic<Payload> = string & { readonly [payloadType]?: Payload };

/** Joins the parts of a topic name (`topic<Message>('messenger', 'conversation', id)`). */
export function topic<Payload>(...parts: string[]): Topic<Payload> {
  return parts.join(':') as Topic<Payload>;
}

/** Publishes a payload to every subscriber of a topic. */
export type Publish = <Payload>(topic: Topic<Payload>, payload: Payload) => Promise<void>;

/** A subscription field resolver as mercurius expects it. */
export interface SubscriptionResolver<Args, Payload> {
  subscribe: (root: unknown, args: Args, context: MercuriusContext, info: GraphQLResolveInfo) => Promise<AsyncIterable<Payload>> | AsyncIterable<Payload>;
  resolve: (payload: Payload, args: Args, context: MercuriusContext, info: GraphQLResolveInfo) => unknown;
}

export interface SubscriptionOptions<Args, Payload> {
  /** A key the subscriber must still hold when each event is delivered. */
  permission?: string;
  /**
   * Drops events this subscriber must not get (runs with the subscriber's current viewer). It must
   * depend only on the event, the arguments and the viewer: for a signed-in subscriber its answer
   * is shared by every socket of the same viewer with the same arguments (a user's many tabs, or
   * thousands of sockets of a few agents, cost one check per event each, not one per socket).
   */
  filter?: (payload: Payload, args: Args, context: MercuriusContext) => boolean | Promise<boolean>;
}

/** A filter's answer for one event and viewer: the promise, and the value once it is settled. */
interface FilterAnswer {
  answer: Promise<boolean>;
  known?: boolean;
}

/**
 * Builds a subscription field: `topicOf` picks the topic from the arguments and context (it may
 * throw an AtriumError to refuse the subscription). Before each event the subscriber's access is
 * re-read: a deactivated user, or one who lost `permission`, stops receiving; `filter` drops events
 * the subscriber must not get. The published payload is the field's value; events are written to
 * the socket directly (see `deliverDirectly`).
 */
export function subscription<Args, Payload>(
  topicOf: (args: Args, context: MercuriusContext) => Topic<Payload> | Promise<Topic<Payload>>,
  options: SubscriptionOptions<Args, Payload> = {},
): SubscriptionResolver<Args, Payload> {
  // Filter answers per event, per viewer (the kernel hands out one Viewer object per user and access
  // state), per arguments: a subscriber whose answer is not known yet waits on the shared promise,
  // then reads the answer synchronously. A filter that fails drops the event (and is logged once).
  const answers = new WeakMap<DeliveryEvent, Map<Viewer | null, Map<string | object, FilterAnswer>>>();
  const filtered = (filter: NonNullable<typeof options.filter>, event: DeliveryEvent, args: Args, argsKey: string, context: MercuriusContext, viewer: Viewer | null) => {
    const byArgs = entryOf(entryOf(answers, event, () => new Map<Viewer | null, Map<string | object, FilterAnswer>>()), viewer, () => new Map<string | object, FilterAnswer>());
    // Anonymous subscribers share nothing: each is its own key.
    const entry = entryOf(byArgs, viewer ? argsKey : context, () => {
      const dropped = (error: unknown) => {
        context.app?.log?.error({ err: error }, 'a subscription filter failed; the event was dropped');
        return false;
      };
      let answer: boolean | Promise<boolean>;
      try {
        answer = filter(event.payload as Payload, args, context);
      } catch (error) {
        answer = dropped(error);
      }
      if (typeof answer === 'boolean') return { answer: Promise.resolve(answer), known: answer };
      const created: FilterAnswer = { answer: answer.catch(dropped) };
      created.answer.then((known) => {
        created.known = known;
      });
      return created;
    });
    return entry.known ?? entry.answer;
  };
  // Subscribers of this field with the same access (a socket's, shared by the sockets of one
  // authorization), arguments and selection decide alike about every event: by access, by the rest.
  const shares = new WeakMap<object, Map<string, object>>();
  const subscribe = async (_root: unknown, args: Args, context: MercuriusContext, info: GraphQLResolveInfo): Promise<AsyncIterable<Payload>> => {
    const argsKey = JSON.stringify(args);
    const access = context.refreshViewer;
    const shareOf = context.viewer ? (selection: string) => entryOf(entryOf(shares, access, () => new Map<string, object>()), `${argsKey}\n${selection}`, () => ({})) : undefined;
    const decide = (event: DeliveryEvent, viewer: Viewer | null): boolean | Promise<unknown> => {
      if (context.viewer !== null && !viewer) return false;
      if (options.permission && !viewer?.keys.has(options.permission)) return false;
      if (!deliveryChecksPass(context, viewer)) return false;
      // mercurius hands each subscription a copy of its socket's context: the filter (and the
      // fields resolved after it) must see the viewer as it is now, not as it was when the socket opened.
      if (viewer) context.viewer = viewer;
      return options.filter ? filtered(options.filter, event, args, argsKey, context, viewer) : true;
    };
    // Access is checked once per event: a decision asked again (after waiting for a filter or the
    // execution) keeps the viewer it was checked with.
    let checkedFor: DeliveryEvent | undefined;
    let checkedViewer: Viewer | null = null;
    const deliverable = (_payload: Payload, event: DeliveryEvent) => {
      if (event !== checkedFor) {
        // A re-read of access to wait for: asked again once it is done (then answered at once).
        const viewer = context.refreshViewer();
        if (viewer instanceof Promise) return viewer;
        checkedFor = event;
        checkedViewer = viewer;
      }
      return decide(event, checkedViewer);
    };
    const stream = await deliverDirectly<Payload>(context, await topicOf(args, context), info, deliverable, shareOf);
    context.subscriptionStarted();
    return stream;
  };
  return { subscribe, resolve: (payload) => payload };
}

import {
  defaultFieldResolver,
  execute,
  getNamedType,
  isAbstractType,
  isObjectType,
  Kind,
  print,
  type DocumentNode,
  type GraphQLFieldResolver,
  type GraphQLObjectType,
  type GraphQLResolveInfo,
  type GraphQLSchema,
} from 'graphql';

/** Marks a value tree already resolved for one (selection, permission set): its fields are read as they are. */
const RESOLVED = Symbol('atrium.resolved');
/** Set on the context of the one execution that resolves for everybody. */
const RESOLVING = Symbol('atrium.resolving');
/** On a socket's context: per subscription id, the serialised `data` of the message about to be sent. */
const SERIALISED = Symbol('atrium.serialised');

interface SharedContext {
  [RESOLVING]?: boolean;
  [SERIALISED]?: Map<string, string>;
  /** The subscription's id on its socket (set by mercurius). */
  id?: string;
  viewer?: { systemRole: string; keys: ReadonlySet<string>; branchIds: readonly string[] } | null;
}

/** A group's shared result: the resolved tree, and the whole `data` serialised once. */
interface Resolution {
  tree: unknown;
  data: string;
}

/** Per published payload: the resolution for each (selection, variables, permission set). */
const resolutions = new WeakMap<object, Map<string, Promise<Resolution | undefined>>>();
/** Printed once per subscription document and per viewer, not once per event and subscriber. */
const printedOperations = new WeakMap<object, string>();
const permissionSets = new WeakMap<object, string>();


/**
 * The permission set a subscriber resolves with: system role, keys and branches. Subscription
 * payload fields must depend on nothing else of the subscriber (not on who they are).
 */
function permissionSet(context: SharedContext): string {
  const viewer = context.viewer;
  if (!viewer) return 'anonymous';
  let key = permissionSets.get(viewer);
  if (key === undefined) {
    key = JSON.stringify([viewer.systemRole, [...viewer.keys].sort(), [...viewer.branchIds].sort()]);
    permissionSets.set(viewer, key);
  }
  return key;
}

function printed(operation: GraphQLResolveInfo['operation']): string {
  let text = printedOperations.get(operation);
  if (text === undefined) {
    text = print(operation);
    printedOperations.set(operation, text);
  }
  return text;
}

function mark(value: unknown): unknown {
  if (Array.isArray(value)) value.forEach(mark);
  else if (value !== null && typeof value === 'object') {
    Object.defineProperty(value, RESOLVED, { value: true });
    for (const child of Object.values(value)) mark(child);
  }
  return value;
}

/**
 * Resolves a subscription field's payload once per (selection, variables, permission set) and hands
 * the same resolved tree to every subscriber of the group: mercurius would otherwise run every
 * resolver below the field once per subscriber per event. The group's `data` is serialised once too,
 * for the socket to write as it is (see {@link serialiseOnce}). Falls back to ordinary resolution
 * when the shared execution reports errors.
 */
export async function resolveShared(payload: unknown, context: SharedContext, info: GraphQLResolveInfo): Promise<unknown> {
  if (context[RESOLVING] || payload === null || typeof payload !== 'object') return payload;
  const key = `${printed(info.operation)}\n${JSON.stringify(info.variableValues)}\n${permissionSet(context)}`;
  const groups = resolutions.get(payload) ?? new Map<string, Promise<Resolution | undefined>>();
  resolutions.set(payload, groups);
  let resolved = groups.get(key);
  if (!resolved) {
    const document: DocumentNode = { kind: Kind.DOCUMENT, definitions: [info.operation, ...Object.values(info.fragments)] };
    resolved = Promise.resolve(
      execute({ schema: info.schema, document, rootValue: payload, contextValue: { ...context, [RESOLVING]: true }, variableValues: info.variableValues }),
    ).then((result) => {
      const value = (result.data as Record<string, unknown> | null | undefined)?.[info.path.key as string];
      return result.errors?.length || value === undefined ? undefined : { tree: mark(value), data: JSON.stringify(result.data) };
    });
    groups.set(key, resolved);
  }
  const resolution = await resolved;
  if (context.id !== undefined) {
    if (resolution) context[SERIALISED]?.set(context.id, resolution.data);
    else context[SERIALISED]?.delete(context.id);
  }
  return resolution ? resolution.tree : payload;
}

/** The part of mercurius' per-socket connection that sends messages. */
export interface MessageSender {
  socket: { send(data: string, callback: (error?: Error) => void): void };
  sendMessage(type: string, id: string | undefined, payload: unknown): Promise<void>;
  handleConnectionClose(): void;
}

/**
 * Makes a socket write a subscription's `next` message from its group's `data` serialised once
 * (mercurius would serialise the whole message per subscriber). The returned properties go into
 * the socket's context, where {@link resolveShared} leaves the serialised data per subscription.
 * The message falls back to ordinary serialisation whenever the subscriber's own result is not
 * plainly `{ data }` (an error, extensions).
 */
export function serialiseOnce(connection: MessageSender): { [SERIALISED]: Map<string, string> } {
  const serialised = new Map<string, string>();
  const send = connection.sendMessage.bind(connection);
  connection.sendMessage = async (type, id, payload) => {
    const data = id === undefined ? undefined : serialised.get(id);
    if (data === undefined) return send(type, id, payload);
    serialised.delete(id!);
    if (payload === null || typeof payload !== 'object' || Object.keys(payload).length !== 1 || !('data' in payload)) return send(type, id, payload);
    const message = `{"type":${JSON.stringify(type)},"id":${JSON.stringify(id)},"payload":{"data":${data}}}`;
    try {
      await new Promise<void>((resolve, reject) => connection.socket.send(message, (error) => (error ? reject(error) : resolve())));
    } catch {
      connection.handleConnectionClose();
    }
  };
  return { [SERIALISED]: serialised };
}

/**
 * Lets every field of the object types a subscription can return read a shared resolved tree as it
 * is. Abstract types are left out (a resolved tree does not carry their type), so their
 * subscriptions resolve per subscriber.
 */
export function shareSubscriptionResolution(schema: GraphQLSchema): void {
  const subscription = schema.getSubscriptionType();
  if (!subscription) return;
  const seen = new Set<GraphQLObjectType>();
  const visit = (type: GraphQLObjectType): void => {
    if (seen.has(type)) return;
    seen.add(type);
    for (const field of Object.values(type.getFields())) {
      const named = getNamedType(field.type);
      if (isObjectType(named)) visit(named);
    }
  };
  for (const field of Object.values(subscription.getFields())) {
    const named = getNamedType(field.type);
    if (isAbstractType(named)) continue;
    if (isObjectType(named)) visit(named);
  }
  for (const type of seen) {
    for (const field of Object.values(type.getFields())) {
      const original: GraphQLFieldResolver<unknown, unknown> = field.resolve ?? defaultFieldResolver;
      field.resolve = (source, args, context, info) =>
        source !== null && typeof source === 'object' && (source as Record<symbol, unknown>)[RESOLVED]
          ? (source as Record<string, unknown>)[info.path.key as string]
          : original(source, args, context, info);
    }
  }
}

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

interface SharedContext {
  [RESOLVING]?: boolean;
  viewer?: { systemRole: string; keys: ReadonlySet<string>; branchIds: readonly string[] } | null;
}

/** Per published payload: the resolved tree for each (selection, variables, permission set). */
const resolutions = new WeakMap<object, Map<string, Promise<unknown>>>();
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
 * resolver below the field once per subscriber per event. Falls back to ordinary resolution when the
 * shared execution reports errors.
 */
export async function resolveShared(payload: unknown, context: SharedContext, info: GraphQLResolveInfo): Promise<unknown> {
  if (context[RESOLVING] || payload === null || typeof payload !== 'object') return payload;
  const key = `${printed(info.operation)}\n${JSON.stringify(info.variableValues)}\n${permissionSet(context)}`;
  const groups = resolutions.get(payload) ?? new Map<string, Promise<unknown>>();
  resolutions.set(payload, groups);
  let resolved = groups.get(key);
  if (!resolved) {
    const document: DocumentNode = { kind: Kind.DOCUMENT, definitions: [info.operation, ...Object.values(info.fragments)] };
    resolved = Promise.resolve(
      execute({ schema: info.schema, document, rootValue: payload, contextValue: { ...context, [RESOLVING]: true }, variableValues: info.variableValues }),
    ).then((result) => {
      const value = (result.data as Record<string, unknown> | null | undefined)?.[info.path.key as string];
      return result.errors?.length || value === undefined ? undefined : mark(value);
    });
    groups.set(key, resolved);
  }
  return (await resolved) ?? payload;
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

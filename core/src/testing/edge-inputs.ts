import { randomUUID } from 'node:crypto';
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isUnionType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLInterfaceType,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type OperationTypeNode,
} from 'graphql';
import type { GqlResponse, RequestOptions, TestApp } from './index.ts';
import type { TestCompany } from './factories.ts';
import type { Assertions } from './isolation.ts';

/**
 * Valid variables of one root field, built from what `seed` made, for the caller of that name. It
 * is called for every request: an operation that works once (a deletion, a checkout) can make a
 * fresh record each time.
 */
export type EdgeBase<Seed> = (seed: Seed, caller: string) => Record<string, unknown> | Promise<Record<string, unknown>>;

export interface EdgeInputSpec<Seed> {
  /** The module whose root queries and mutations are probed (`core` for the kernel's own). */
  module: string;
  /** Creates what the operations need in the caller's company (with its owner's token) and returns their ids. */
  seed(company: TestCompany, test: TestApp): Promise<Seed>;
  /** Who sends the requests, by name (a user's token, the platform key's header). Absent: the company's owner. */
  callers?(seed: Seed, company: TestCompany): Record<string, RequestOptions>;
  /**
   * Per root field (`Query.contacts`, `Subscription.dealUpdated`, `Mutation.createContact`), variables that make a valid request
   * (the check sends them first, and they must answer without an error): every argument and input
   * field given here is replaced in turn by edge values of its type. Queries and subscriptions run
   * first, then the mutations in this order.
   */
  operations: Record<string, EdgeBase<Seed>>;
  /** Fields of the module not probed, each with the reason: root fields (with what their answers hold), and fields with arguments no probed query reaches. */
  skip?: Record<string, string>;
}

/** An input long enough to pass any sensible length limit's check by the database, not by the schema. */
const LONG_TEXT = 'x'.repeat(10_000);
const LONG_LIST = 1000;
const MISSING_ID = randomUUID();

/** Cursors of MikroORM's shape (base64url JSON) holding values of the wrong types. */
const FORGED_CURSORS = [['x', 'y'], [1, 2], [true]].map((values) => Buffer.from(JSON.stringify(values)).toString('base64url'));
/** A day and a time of the year 0, which PostgreSQL has not, for strings that hold one. */
const YEAR_ZERO = ['0000-12-31', '0000-12-31T23:59:59Z'];
const TEXT_EDGES: unknown[] = ['', '   ', LONG_TEXT, 'a\u0000b', '\ud800', 'é 😀 \u202e', `%_'"\\`, ...FORGED_CURSORS, ...YEAR_ZERO];

/** Edge values per scalar: empty, huge, out of range, unstorable, almost well-formed. */
const SCALAR_EDGES: Record<string, unknown[]> = {
  ID: [MISSING_ID, 'not-an-id', '', `urn:uuid:${MISSING_ID}`, MISSING_ID.toUpperCase(), '00000000-0000-0000-0000-000000000000', 'a\u0000b', 42],
  String: TEXT_EDGES,
  Int: [0, -1, 2_147_483_647, -2_147_483_648],
  Float: [0, -1, Number.MAX_VALUE, Number.MIN_VALUE],
  Boolean: [true, false],
  DateTime: ['0000-01-01T00:00:00Z', '0001-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z', '+275760-09-13T00:00:00.000Z', '2026-02-30T00:00:00Z', 'yesterday', 0],
  Decimal: ['0', '-1', '0.001', '-0', '1e3', '99999999999999999999999', 'NaN', 'Infinity', ' 1', 1.5],
  JSON: [
    {},
    [],
    JSON.parse(`${'{"a":'.repeat(64)}1${'}'.repeat(64)}`),
    JSON.parse('{"__proto__":{"polluted":true}}'),
    { 'a\u0000': 1 },
    { key: '\ud800' },
    { key: LONG_TEXT },
    'text',
    Number.MAX_VALUE,
  ],
};
/** A module's own scalar: anything. */
const OTHER_SCALAR_EDGES: unknown[] = [...TEXT_EDGES, 0, -1, {}, []];

type Path = (string | number)[];

/** Every (path, value) the probe sends for an argument of this type whose valid value is `value`. */
function* edgesOf(type: GraphQLInputType, value: unknown, path: Path): Generator<[Path, unknown]> {
  yield [path, null];
  const inner = isNonNullType(type) ? type.ofType : type;
  if (isListType(inner)) {
    yield [path, []];
    yield [path, [null]];
    if (Array.isArray(value) && value.length) {
      yield [path, Array.from({ length: LONG_LIST }, () => value[0])];
      yield* edgesOf(inner.ofType, value[0], [...path, 0]);
    }
  } else if (isInputObjectType(inner)) {
    if (value === undefined || value === null) yield [path, {}];
    else for (const field of Object.values(inner.getFields())) yield* edgesOf(field.type, (value as Record<string, unknown>)[field.name], [...path, field.name]);
  } else if (isEnumType(inner)) {
    for (const { name } of inner.getValues()) yield [path, name];
  } else {
    for (const edge of SCALAR_EDGES[inner.name] ?? OTHER_SCALAR_EDGES) yield [path, edge];
  }
}

/** A copy of `variables` with the value at `path` replaced. */
function withValue(variables: Record<string, unknown>, path: Path, value: unknown): Record<string, unknown> {
  const copy = structuredClone(variables);
  let parent: any = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] ??= {};
  parent[path.at(-1)!] = value;
  return copy;
}

const SELECTION_DEPTH = 3;

/** An argument of a field below the root, lifted into a variable of the operation (`edges_node_timeline_after`). */
interface NestedArg {
  name: string;
  variable: string;
  type: GraphQLInputType;
  /** `Type.field`, as `fieldOwners` keys it. */
  field: string;
}

/**
 * Every field reachable without required arguments, three levels deep (deeper objects: their type
 * name). With `nested`, the optional arguments of those fields become variables of the operation,
 * collected there; without, such fields are asked for with their defaults.
 */
function selectionOf(type: GraphQLOutputType, depth = 0, nested?: NestedArg[], path: string[] = []): string {
  const named = getNamedType(type);
  if (isLeafType(named)) return '';
  if (isUnionType(named) || depth === SELECTION_DEPTH) return '{ __typename }';
  const parent = named as GraphQLObjectType | GraphQLInterfaceType;
  const fields = Object.values(parent.getFields()).filter((field) => !field.args.some((arg) => isNonNullType(arg.type)));
  const select = (field: GraphQLField<unknown, unknown>) => {
    const at = [...path, field.name];
    const lifted = nested ? field.args.map((arg) => ({ name: arg.name, variable: [...at, arg.name].join('_'), type: arg.type, field: `${parent.name}.${field.name}` })) : [];
    nested?.push(...lifted);
    const args = lifted.length ? `(${lifted.map(({ name, variable }) => `${name}: $${variable}`).join(', ')})` : '';
    return `${field.name}${args} ${selectionOf(field.type, depth + 1, nested, at)}`;
  };
  return `{ __typename ${fields.map(select).join(' ')} }`;
}

type Root = 'Query' | 'Mutation' | 'Subscription';
/** Reads first; mutations last, in the order given. */
const ROOT_ORDER: Root[] = ['Query', 'Subscription', 'Mutation'];

/**
 * The operation asking for a root field and its selection, and the nested arguments it lifted into
 * variables: a query's alone, since a mutation's answer failing on a nested argument still committed.
 */
function documentOf(root: Root, field: GraphQLField<unknown, unknown>): { query: string; nested: NestedArg[] } {
  const nested: NestedArg[] = [];
  const selection = selectionOf(field.type, 0, root === 'Query' ? nested : undefined);
  const definitions = [...field.args.map((arg) => `$${arg.name}: ${String(arg.type)}`), ...nested.map(({ variable, type }) => `$${variable}: ${String(type)}`)].join(', ');
  const args = field.args.map((arg) => `${arg.name}: $${arg.name}`).join(', ');
  return { query: `${root.toLowerCase()}${definitions ? ` (${definitions})` : ''} { ${field.name}${args ? `(${args})` : ''} ${selection} }`, nested };
}

/**
 * The errors of a subscription's start: none if the server listens, its errors if it refused, a close
 * before it started as an error (a 44xx close is the kernel's clear refusal: UNAUTHENTICATED, FORBIDDEN).
 */
async function startErrors(test: TestApp, query: string, variables: Record<string, unknown>, as: RequestOptions): Promise<GqlResponse['errors']> {
  const live = await test.subscribe(query, variables, { token: as.token });
  // `subscribe` returns once the server listens or refused: a refusal has settled already, and wins the race.
  const refusal = await Promise.race([live.failed, live.closed, Promise.resolve(null)]);
  await live.close();
  if (refusal === null) return undefined;
  if (Array.isArray(refusal)) return refusal as GqlResponse['errors'];
  const { code, reason } = refusal as { code: number; reason: string };
  return [{ message: `closed (${code} ${reason})`, extensions: code >= 4400 && code < 4500 ? { code: `CLOSED_${code}` } : {} }];
}

const preview = (value: unknown): string => {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
};

/** Tables the background workers write on their own clock (jobs, their schedules) or that only migrations write. */
const WORKER_TABLES = ['atrium_job', 'atrium_schedule', 'atrium_migration'];

/**
 * Reads a digest of every table's rows (the workers' own aside): one statement. The whole database,
 * not the caller's company alone: a failed mutation must not write another company's rows, a join
 * table's (roles of a user), or a global one (plans, a new company).
 */
async function databaseDigests(test: TestApp): Promise<() => Promise<Record<string, string>>> {
  const tables = await test.sql<{ table_name: string }>(
    `select table_name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'
        and table_name not in (${WORKER_TABLES.map((table) => `'${table}'`).join(', ')}) order by table_name`,
  );
  const digest = (table: string) => `(select md5(coalesce(string_agg(r::text, ',' order by r::text), '')) from "${table}" r) as "${table}"`;
  const sql = `select ${tables.map(({ table_name }) => digest(table_name)).join(', ')}`;
  return async () => (await test.sql<Record<string, string>>(sql))[0]!;
}

/**
 * Every root query, mutation and subscription of a module answers edge inputs with data (a
 * subscription: it starts) or a clear error: each argument and input field of the valid variables in
 * `operations` (and each input field they leave out) is replaced in turn by edge values of its type —
 * null, empty and huge strings, NUL and a lone surrogate, forged cursors, malformed and unknown ids,
 * extreme numbers, dates and decimals, deep and unstorable JSON, long lists, every enum value. No
 * answer may be INTERNAL, an error without a code or an HTTP 5xx, and a mutation answering an error
 * must leave every row of the database as it was (the job queue aside). The arguments of fields below a query's root
 * (`Contact.timeline(after:)`) are probed too, through the first probed query that reaches them. A
 * root field of the module in neither `operations` nor `skip` fails the check, and so does a field
 * of the module with arguments that no probed or skipped query reaches and `skip` does not name.
 */
export async function assertEdgeInputs<Seed>(t: Assertions, test: TestApp, spec: EdgeInputSpec<Seed>): Promise<void> {
  const { schema, fieldOwners } = test.app.schema;
  const owned = [...fieldOwners].filter(([key, owner]) => owner === spec.module && /^(Query|Mutation|Subscription)\./.test(key)).map(([key]) => key);
  const unknown = Object.keys(spec.operations).filter((key) => !owned.includes(key));
  t.same(unknown, [], `${spec.module}: every probed field is a root field of the module`);
  t.same(
    owned.filter((key) => !(key in spec.operations) && !(key in (spec.skip ?? {}))),
    [],
    `${spec.module}: every root query, mutation and subscription is probed or skipped with a reason`,
  );

  const rootOf = (key: string) => key.split('.')[0] as Root;
  const keys = Object.keys(spec.operations).filter((key) => owned.includes(key)).sort((a, b) => ROOT_ORDER.indexOf(rootOf(a)) - ROOT_ORDER.indexOf(rootOf(b)));
  /** The root field a key names (`Query.contacts`), if it names one. */
  const rootField = (key: string) => {
    const [root, name] = key.split('.') as [Root, string];
    return ROOT_ORDER.includes(root) ? schema.getRootType(root.toLowerCase() as OperationTypeNode)?.getFields()[name] : undefined;
  };
  const documents = new Map(keys.map((key) => [key, documentOf(rootOf(key), rootField(key)!)]));
  // A field below the root with arguments is probed through the first query that reaches it; one
  // under a skipped query is skipped with it.
  const nestedUnder = (key: string) => {
    const field = rootOf(key) === 'Query' ? rootField(key) : undefined;
    return field ? (documents.get(key) ?? documentOf('Query', field)).nested.map((arg) => arg.field) : [];
  };
  const reached = new Set([...keys, ...Object.keys(spec.skip ?? {})].flatMap(nestedUnder));
  const hasArgs = (key: string) => {
    const [typeName, name] = key.split('.') as [string, string];
    const type = schema.getType(typeName) as GraphQLObjectType | undefined;
    return Boolean(type && 'getFields' in type && type.getFields()[name]?.args?.length);
  };
  const nestedOwned = [...fieldOwners].filter(([key, owner]) => owner === spec.module && !/^(Query|Mutation|Subscription)\./.test(key) && hasArgs(key)).map(([key]) => key);
  t.same(
    nestedOwned.filter((key) => !reached.has(key) && !(key in (spec.skip ?? {}))),
    [],
    `${spec.module}: every field with arguments is reached by a probed or skipped query or skipped with a reason`,
  );

  const company = await test.createCompany({ name: `Edge inputs of ${spec.module}` });
  const seed = await spec.seed(company, test);
  const digests = await databaseDigests(test);
  const callers = spec.callers?.(seed, company) ?? { owner: { token: company.owner.token } };

  for (const [caller, as] of Object.entries(callers)) {
    const probedNested = new Set<string>();
    for (const key of keys) {
      const root = rootOf(key);
      const field = rootField(key)!;
      const { query, nested } = documents.get(key)!;
      const failures: string[] = [];
      let requests = 0;
      const send = async (at: string, change?: (base: Record<string, unknown>) => Record<string, unknown>) => {
        const base = await spec.operations[key]!(seed, caller);
        const variables = change ? change(base) : base;
        if (root === 'Mutation') await test.app.dispatcher.idle();
        const before = root === 'Mutation' ? await digests() : undefined;
        const answer = root === 'Subscription' ? { statusCode: 200, errors: await startErrors(test, query, variables, as) } : await test.gql(query, variables, as);
        requests++;
        if (answer.statusCode >= 500) failures.push(`${at}: HTTP ${answer.statusCode}`);
        for (const error of answer.errors ?? []) {
          const code = error.extensions?.code;
          const fields = error.extensions?.fields ? ` ${JSON.stringify(error.extensions.fields)}` : '';
          // A rate-limited answer tells nothing of the input: the sweep would pass without probing.
          if (code === 'RATE_LIMITED') failures.push(`${at}: RATE_LIMITED (give the sweep's app config { httpRateLimit: 0 })`);
          else if (!change || !code || code === 'INTERNAL') failures.push(`${at}: ${code ?? 'no code'} (${error.message}${fields})`);
        }
        if (before && answer.errors?.length) {
          await test.app.dispatcher.idle();
          const after = await digests();
          const changed = Object.keys(after).filter((table) => after[table] !== before[table]);
          if (changed.length) failures.push(`${at}: answered ${answer.errors[0]!.extensions?.code} and wrote to ${changed.join(', ')}`);
        }
        if ('polluted' in {}) failures.push(`${at}: polluted Object.prototype`);
      };
      await send('the valid variables');
      const example = await spec.operations[key]!(seed, caller);
      for (const arg of field.args) {
        for (const [path, value] of edgesOf(arg.type, example[arg.name], [arg.name])) {
          await send(`${path.join('.')} = ${preview(value)}`, (base) => withValue(base, path, value));
        }
      }
      const fresh = nested.filter((arg) => !probedNested.has(arg.field));
      for (const arg of fresh) {
        for (const [path, value] of edgesOf(arg.type, undefined, [arg.variable])) {
          await send(`${arg.field}(${arg.name}) = ${preview(value)}`, (base) => withValue(base, path, value));
        }
      }
      for (const arg of fresh) probedNested.add(arg.field);
      t.same(failures, [], `${key} as ${caller}: ${requests} requests, each answered with data or a clear error (a failed mutation writing nothing)`);
    }
  }
}

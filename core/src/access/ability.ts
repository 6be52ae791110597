import { buildMongoQueryMatcher, createMongoAbility, type MongoAbility, type RawRuleOf } from '@casl/ability';
import { rulesToAST, rulesToCondition } from '@casl/ability/extra';
import { $and, $or, and, or, CompoundCondition, type Condition } from '@ucast/mongo2js';
import { AtriumError } from '../graphql/errors.ts';
import type { PermissionDefinition } from './permissions.ts';
import type { SystemRole } from '../tenancy/entities.ts';
import { sqlCondition, sqlIn, type SqlCondition } from '../db/sql-condition.ts';

/** A request's CASL ability over entity names as subjects. */
export type AppAbility = MongoAbility;

/** Reads a (dotted) field for condition matching; a related entity compares by its id. */
function getField(object: Record<string, unknown>, field: string): unknown {
  const value = field.split('.').reduce<unknown>((node, segment) => (node as Record<string, unknown> | null | undefined)?.[segment], object);
  const isEntity = value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date) && 'id' in value;
  return isEntity ? (value as { id: unknown }).id : value;
}

// CASL's default matcher treats $and/$or inside rule conditions as field names: teach it both.
const conditionsMatcher = buildMongoQueryMatcher({ $and, $or }, { and, or }, { get: getField });

/** The entity name of a subject: a MikroORM entity knows its metadata; plain objects carry `__typename`. */
function detectSubjectType(subject: object): string {
  const meta = (subject as { __meta?: { className?: string } }).__meta;
  return meta?.className ?? (subject as { __typename?: string }).__typename ?? subject.constructor.name;
}

/** Who the ability is for. */
export interface AbilityInput {
  userId?: string;
  systemRole: SystemRole;
  branchIds: readonly string[];
  /** Keys the caller holds (OWNER/ADMIN: every key of the company's enabled modules). */
  grants: readonly PermissionDefinition[];
}

/** Builds the CASL ability of one caller from the permission keys it holds. */
export function buildAbility(input: AbilityInput): AppAbility {
  const rules: RawRuleOf<AppAbility>[] = [];
  const branchLimited = input.systemRole === 'MEMBER';
  for (const grant of input.grants) {
    rules.push({
      action: grant.actions,
      subject: grant.subject,
      ...(grant.fields ? { fields: grant.fields } : {}),
      ...(grant.branchScoped && branchLimited ? { conditions: { branchId: { $in: [...input.branchIds] } } } : {}),
    });
  }
  // Everybody sees their own user record, every field of it.
  if (input.userId) rules.push({ action: 'read', subject: 'User', conditions: { id: input.userId } });
  return createMongoAbility(rules, { conditionsMatcher, detectSubjectType });
}

/** A MikroORM filter, as plain data. */
export type WhereClause = Record<string, unknown>;

/**
 * Turns what an ability allows (`action` on entity `subject`) into a MikroORM filter, so that lists,
 * counts and totals are limited in SQL. `null` means nothing is allowed. Follows CASL 7's rule
 * order: later rules win, `cannot` rules subtract, an unconditional rule matches every row.
 */
export function accessibleWhere(ability: AppAbility, action: string, subject: string): WhereClause | null {
  const ast = rulesToAST(ability, action, subject);
  return ast ? toWhere(ast) : null;
}

/** What a `not` negates: CASL gives an inverted rule's condition as a list of one. */
const negated = (value: unknown): Condition => (Array.isArray(value) ? (value.length === 1 ? value[0] : new CompoundCondition('and', value)) : value) as Condition;

/** A condition's field, refused when it could reach past the subject's own fields. */
function checkField(operator: string, field: string | undefined): asserts field is string {
  if (!field) throw new AtriumError('INTERNAL', `Unsupported access condition "${operator}"`);
  if (field.split('.').some((segment) => segment.startsWith('$') || segment === '__proto__' || segment === 'constructor')) {
    throw new AtriumError('INTERNAL', `Refused access condition on field "${field}"`);
  }
}

function toWhere(node: Condition): WhereClause {
  const { operator, value } = node as { operator: string; value: unknown };
  const field = (node as { field?: string }).field;
  if (operator === 'and' || operator === 'or') {
    const parts = (value as Condition[]).map(toWhere);
    if (operator === 'and') return parts.length === 0 ? {} : parts.length === 1 ? parts[0]! : { $and: parts };
    return parts.length === 1 ? parts[0]! : { $or: parts };
  }
  if (operator === 'not') return { $not: toWhere(negated(value)) };
  checkField(operator, field);
  const comparison = (() => {
    switch (operator) {
      case 'eq':
        return value;
      case 'ne':
        return { $ne: value };
      case 'in':
        return { $in: value };
      case 'nin':
        return { $nin: value };
      case 'lt':
      case 'lte':
      case 'gt':
      case 'gte':
        return { [`$${operator}`]: value };
      case 'exists':
        return value ? { $ne: null } : null;
      default:
        throw new AtriumError('INTERNAL', `Unsupported access condition "${operator}"`);
    }
  })();
  // Dotted paths become nested relation filters: `owner.id` → { owner: { id: … } }.
  return field
    .split('.')
    .reduceRight<unknown>((inner, segment) => ({ [segment]: inner }), comparison) as WhereClause;
}

/**
 * What accessibleWhere allows, as a SQL condition over one table, for reads that skip the ORM
 * (`paginateRows`); `columnOf` names a field's column. Same rule order and meaning, `null` when
 * nothing is allowed; conditions on related entities' fields (dotted) are refused.
 */
export function accessibleSql(ability: AppAbility, action: string, subject: string, columnOf: (field: string) => string): SqlCondition | null {
  const ast = rulesToAST(ability, action, subject);
  return ast ? toSql(ast, columnOf) : null;
}

function toSql(node: Condition, columnOf: (field: string) => string): SqlCondition {
  const { operator, value } = node as { operator: string; value: unknown };
  const field = (node as { field?: string }).field;
  if (operator === 'and' || operator === 'or') {
    const parts = (value as Condition[]).map((part) => toSql(part, columnOf));
    if (!parts.length) return sqlCondition(operator === 'and' ? 'true' : 'false');
    return { sql: `(${parts.map((part) => part.sql).join(` ${operator} `)})`, params: parts.flatMap((part) => part.params) };
  }
  if (operator === 'not') {
    // A comparison with null is null in SQL and false in CASL: negated, it must match.
    const inner = toSql(negated(value), columnOf);
    return { sql: `not coalesce(${inner.sql}, false)`, params: inner.params };
  }
  checkField(operator, field);
  if (field.includes('.')) throw new AtriumError('INTERNAL', `Access condition on "${field}" needs the ORM's filters (accessibleWhere)`);
  const column = columnOf(field);
  // As CASL matches in memory: null equals only null, and differs from every value.
  switch (operator) {
    case 'eq':
      return value === null ? sqlCondition(`${column} is null`) : sqlCondition(`${column} = ?`, value);
    case 'ne':
      return value === null ? sqlCondition(`${column} is not null`) : sqlCondition(`${column} is distinct from ?`, value);
    case 'in':
    case 'nin': {
      const values = value as unknown[];
      const listed = values.filter((item) => item !== null);
      const parts = [sqlIn(column, listed)];
      if (listed.length < values.length) parts.push(sqlCondition(`${column} is null`));
      const matches = { sql: `(${parts.map((part) => part.sql).join(' or ')})`, params: parts.flatMap((part) => part.params) };
      return operator === 'in' ? matches : { sql: `not coalesce(${matches.sql}, false)`, params: matches.params };
    }
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte':
      return sqlCondition(`${column} ${{ lt: '<', lte: '<=', gt: '>', gte: '>=' }[operator]} ?`, value);
    case 'exists':
      return sqlCondition(`${column} is ${value ? 'not ' : ''}null`);
    default:
      throw new AtriumError('INTERNAL', `Unsupported access condition "${operator}"`);
  }
}

/** Like accessibleWhere, for the rows where one field may be read (field-level rules). */
export function accessibleFieldWhere(ability: AppAbility, action: string, subject: string, field: string): WhereClause | null {
  const ast = rulesToCondition(
    ability.rulesFor(action, subject, field),
    (rule) => (rule.inverted ? new CompoundCondition('not', [rule.ast!]) : rule.ast!),
    { and: (parts) => new CompoundCondition('and', parts), or: (parts) => new CompoundCondition('or', parts), empty: () => new CompoundCondition('and', []) },
  );
  return ast ? toWhere(ast) : null;
}

/**
 * Refuses (FORBIDDEN) filtering or sorting by a field the caller may not read on every row it may
 * see: a count over such a filter would reveal the hidden values.
 */
export function assertReadableFields(ability: AppAbility, subject: string, fields: Iterable<string>): void {
  const visible = JSON.stringify(accessibleWhere(ability, 'read', subject));
  for (const field of fields) {
    const readable = accessibleFieldWhere(ability, 'read', subject, field);
    if (readable === null || JSON.stringify(readable) !== visible) throw new AtriumError('FORBIDDEN', `You may not filter or sort by ${field}`);
  }
}

/** The fields the ability's conditions on `subject` read, whatever the action: what judging a row needs. */
export function conditionFields(ability: AppAbility, subject: string): Set<string> {
  const fields = new Set<string>();
  const collect = (conditions: unknown): void => {
    if (conditions === null || typeof conditions !== 'object') return;
    if (Array.isArray(conditions)) {
      for (const part of conditions) collect(part);
      return;
    }
    for (const [key, value] of Object.entries(conditions)) {
      if (key === '$and' || key === '$or' || key === '$nor' || key === '$not') collect(value);
      else if (!key.startsWith('$')) fields.add(key.split('.')[0]!);
    }
  };
  for (const rule of ability.rules) {
    const subjects = [rule.subject ?? []].flat();
    if (subjects.includes(subject) || subjects.includes('all')) collect(rule.conditions);
  }
  return fields;
}

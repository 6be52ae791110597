import { buildMongoQueryMatcher, createMongoAbility, type MongoAbility, type RawRuleOf } from '@casl/ability';
import { rulesToAST, rulesToCondition } from '@casl/ability/extra';
import { $and, $or, and, or, CompoundCondition, type Condition } from '@ucast/mongo2js';
import { AtriumError } from '../graphql/errors.ts';
import type { PermissionDefinition } from './permissions.ts';
import type { SystemRole } from '../tenancy/entities.ts';

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

function toWhere(node: Condition): WhereClause {
  const { operator, value } = node as { operator: string; value: unknown };
  const field = (node as { field?: string }).field;
  if (operator === 'and' || operator === 'or') {
    const parts = (value as Condition[]).map(toWhere);
    if (operator === 'and') return parts.length === 0 ? {} : parts.length === 1 ? parts[0]! : { $and: parts };
    return parts.length === 1 ? parts[0]! : { $or: parts };
  }
  if (operator === 'not') return { $not: toWhere(value as Condition) };
  if (!field) throw new AtriumError('INTERNAL', `Unsupported access condition "${operator}"`);
  if (field.split('.').some((segment) => segment.startsWith('$') || segment === '__proto__' || segment === 'constructor')) {
    throw new AtriumError('INTERNAL', `Refused access condition on field "${field}"`);
  }
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

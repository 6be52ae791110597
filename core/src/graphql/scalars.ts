import { GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import { AtriumError } from './errors.ts';

const invalid = (message: string): AtriumError => new AtriumError('BAD_USER_INPUT', message);

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function parseDateTime(value: unknown): Date {
  if (typeof value !== 'string' || !ISO_DATE_TIME.test(value)) {
    throw invalid('DateTime must be an ISO-8601 string with a time zone, e.g. "2026-01-31T09:30:00Z"');
  }
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw invalid(`DateTime "${value}" is not a real date`);
  return date;
}

/** ISO-8601 timestamps, always answered in UTC. */
export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  description: 'An ISO-8601 timestamp, answered in UTC (e.g. "2026-01-31T09:30:00.000Z").',
  serialize(value) {
    const date = value instanceof Date ? value : new Date(value as string);
    if (Number.isNaN(date.getTime())) throw new TypeError('DateTime cannot represent an invalid date');
    return date.toISOString();
  },
  parseValue: parseDateTime,
  parseLiteral(ast: ValueNode) {
    if (ast.kind !== Kind.STRING) throw invalid('DateTime must be a string');
    return parseDateTime(ast.value);
  },
});

const DECIMAL = /^-?\d{1,20}(\.\d{1,10})?$/;

function parseDecimal(value: unknown): string {
  if (typeof value !== 'string' || !DECIMAL.test(value)) {
    throw invalid('Decimal must be a string of digits with an optional fraction, e.g. "12.50"');
  }
  return value;
}

/** Exact decimal numbers (money, quantities) as strings; never floats. */
export const DecimalScalar = new GraphQLScalarType<string, string>({
  name: 'Decimal',
  description: 'An exact decimal number as a string, e.g. "12.50". Stored as `numeric`.',
  serialize(value) {
    if (typeof value === 'string' || typeof value === 'bigint') return String(value);
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
    throw new TypeError('Decimal cannot represent this value');
  },
  parseValue: parseDecimal,
  parseLiteral(ast: ValueNode) {
    if (ast.kind !== Kind.STRING) throw invalid('Decimal must be a string, e.g. "12.50"');
    return parseDecimal(ast.value);
  },
});

function literalToValue(ast: ValueNode, variables: Record<string, unknown> | null | undefined): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
    case Kind.ENUM:
      return ast.value;
    case Kind.INT:
      return Number.parseInt(ast.value, 10);
    case Kind.FLOAT:
      return Number.parseFloat(ast.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return ast.values.map((v) => literalToValue(v, variables));
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((f) => [f.name.value, literalToValue(f.value, variables)]));
    case Kind.VARIABLE:
      return variables?.[ast.name.value];
  }
}

/** Any JSON value. */
export const JSONScalar = new GraphQLScalarType<unknown, unknown>({
  name: 'JSON',
  description: 'Any JSON value.',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: literalToValue,
});

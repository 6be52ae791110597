import { GraphQLError } from 'graphql';
import type { ErrorObject } from 'ajv';

/** The error codes every Atrium API answers with, in `extensions.code`. */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'MODULE_DISABLED'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'CONFLICT'
  | 'INSUFFICIENT_STOCK'
  | 'PLAN_LIMIT'
  | 'RATE_LIMITED'
  | 'INTERNAL';

/**
 * An error meant for the API client: its message is shown as is, its code and extensions go to
 * `extensions`. Anything thrown that is not an AtriumError is reported as `INTERNAL` without details.
 */
export class AtriumError extends Error {
  readonly code: ErrorCode;
  readonly extensions: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}) {
    super(message);
    this.name = 'AtriumError';
    this.code = code;
    // The code travels in the extensions too, so that paths formatting errors without the kernel
    // (a subscription refused when it starts) still answer it.
    this.extensions = { ...extensions, code };
  }
}

/** Invalid input; `fields` maps an input path (`input.email`, `input.lines.0.quantity`) to a message. */
export class BadUserInputError extends AtriumError {
  readonly fields: Record<string, string>;

  constructor(fields: Record<string, string>, message = 'Invalid input') {
    super('BAD_USER_INPUT', message, { fields });
    this.name = 'BadUserInputError';
    this.fields = fields;
  }
}

export const notFound = (what: string): AtriumError => new AtriumError('NOT_FOUND', `${what} not found`);
export const forbidden = (message = 'Not allowed'): AtriumError => new AtriumError('FORBIDDEN', message);
export const conflict = (message: string, extensions?: Record<string, unknown>): AtriumError =>
  new AtriumError('CONFLICT', message, extensions);

/** Turns ajv errors into the `fields` map of BAD_USER_INPUT, paths prefixed with `root` (e.g. `input`). */
export function fieldsFromAjv(errors: ErrorObject[] | null | undefined, root = ''): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const error of errors ?? []) {
    const segments = error.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    if (error.keyword === 'required') segments.push(String(error.params.missingProperty));
    if (error.keyword === 'additionalProperties') segments.push(String(error.params.additionalProperty));
    const path = [root, ...segments].filter(Boolean).join('.') || root || '(root)';
    if (!(path in fields)) fields[path] = describeAjvError(error);
  }
  return fields;
}

function describeAjvError(error: ErrorObject): string {
  switch (error.keyword) {
    case 'required':
      return 'is required';
    case 'additionalProperties':
      return 'is not an accepted field';
    case 'format':
      return error.params.format === 'uuid' ? 'is not an id (a lower-case UUID)' : (error.message ?? 'is invalid');
    default:
      return error.message ?? 'is invalid';
  }
}

const SUGGESTION = / ?Did you mean .+\?$/;

export interface FormatOptions {
  /** Keep graphql-js "Did you mean …?" suggestions (development only: they reveal the schema). */
  suggestions: boolean;
  log?: { error(obj: unknown, msg?: string): void };
}

/**
 * Maps any error raised while serving GraphQL to the public error model: AtriumErrors keep their
 * message and code; GraphQL syntax, validation and coercion errors and refused requests become
 * BAD_USER_INPUT; everything else becomes INTERNAL with a generic message (the original is logged,
 * never sent).
 */
export function toPublicError(error: GraphQLError, options: FormatOptions): GraphQLError {
  const cause = rootCause(error);
  if (cause instanceof AtriumError) {
    // graphql-js prefixes coercion errors with the variable at fault: keep its wording.
    return new GraphQLError(error.message, { path: error.path, extensions: { ...cause.extensions, code: cause.code } });
  }
  if (requestErrorStatus(cause) !== undefined) {
    // mercurius keeps the specific reason (e.g. "… via a GET request") in `errors`.
    const detail = (cause as { errors?: Error[] }).errors?.[0]?.message ?? cause.message;
    return new GraphQLError(detail, { extensions: { code: 'BAD_USER_INPUT' } });
  }
  if (cause instanceof GraphQLError) {
    const message = options.suggestions ? error.message : error.message.replace(SUGGESTION, '');
    return new GraphQLError(message, {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      path: error.path,
      extensions: { code: 'BAD_USER_INPUT' },
    });
  }
  options.log?.error({ err: cause, path: error.path }, 'unexpected error while serving GraphQL');
  return new GraphQLError('Internal server error', { path: error.path, extensions: { code: 'INTERNAL' } });
}

/** The innermost error behind a chain of GraphQLErrors. */
function rootCause(error: Error): Error {
  let current = error;
  while (current instanceof GraphQLError && current.originalError) current = current.originalError;
  return current;
}

/** The HTTP status of a refused request (Fastify's and mercurius' own 4xx errors), if it is one. */
export function requestErrorStatus(error: unknown): number | undefined {
  const { statusCode, code } = (error ?? {}) as { statusCode?: unknown; code?: unknown };
  const known = typeof code === 'string' && (code.startsWith('MER_ERR_') || code.startsWith('FST_ERR_'));
  return known && typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500 ? statusCode : undefined;
}

/** The HTTP status of a GraphQL error answer: a refused request keeps its 4xx status. */
export function statusOf(errors: readonly GraphQLError[]): number | undefined {
  for (const error of errors) {
    const cause = rootCause(error);
    const status = requestErrorStatus(cause) ?? (cause instanceof AtriumError ? (cause as { statusCode?: number }).statusCode : undefined);
    if (status !== undefined) return status;
  }
  return undefined;
}

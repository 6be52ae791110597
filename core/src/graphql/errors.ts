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
    this.extensions = extensions;
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
 * message and code; GraphQL syntax and validation errors become BAD_USER_INPUT; everything else
 * becomes INTERNAL with a generic message (the original is logged, never sent).
 */
export function toPublicError(error: GraphQLError, options: FormatOptions): GraphQLError {
  const original = error.originalError;
  if (original instanceof AtriumError) {
    return new GraphQLError(original.message, {
      path: error.path,
      extensions: { ...original.extensions, code: original.code },
    });
  }
  if (isRequestError(original)) {
    return new GraphQLError(original.message, { extensions: { code: 'BAD_USER_INPUT' } });
  }
  if (!original || isGraphQLClientError(original)) {
    const message = options.suggestions ? error.message : error.message.replace(SUGGESTION, '');
    const code = (error.extensions?.code as string | undefined) ?? 'BAD_USER_INPUT';
    return new GraphQLError(message, {
      locations: error.locations,
      path: error.path,
      extensions: { code: isPublicCode(code) ? code : 'BAD_USER_INPUT' },
    });
  }
  options.log?.error({ err: original, path: error.path }, 'unexpected error while resolving');
  return new GraphQLError('Internal server error', { path: error.path, extensions: { code: 'INTERNAL' } });
}

const PUBLIC_CODES = new Set<string>([
  'UNAUTHENTICATED', 'FORBIDDEN', 'MODULE_DISABLED', 'NOT_FOUND', 'BAD_USER_INPUT', 'CONFLICT',
  'INSUFFICIENT_STOCK', 'PLAN_LIMIT', 'RATE_LIMITED', 'INTERNAL',
]);
const isPublicCode = (code: string): boolean => PUBLIC_CODES.has(code);

/** mercurius' own refusals of a request (CSRF, GET mutations, malformed bodies): status 4xx. */
function isRequestError(error: Error | undefined): error is Error & { statusCode: number } {
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof status === 'number' && status >= 400 && status < 500 && typeof code === 'string' && code.startsWith('MER_ERR_');
}

/** Errors graphql-js raises about the request itself (bad variables, wrong argument types). */
function isGraphQLClientError(error: Error): boolean {
  return error instanceof GraphQLError && !(error.originalError && !(error.originalError instanceof GraphQLError));
}

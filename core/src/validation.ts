import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { isId } from './db/ids.ts';
import { BadUserInputError, fieldsFromAjv } from './graphql/errors.ts';

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/**
 * The kernel's shared ajv instance: every error reported, defaults applied, unknown fields refused
 * where a schema says `additionalProperties: false`. Modules compile their input schemas with it.
 */
export const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, coerceTypes: false });
addFormats(ajv);
// ajv-formats' uuid also takes a `urn:uuid:` prefix, which PostgreSQL refuses: an id is the bare form.
ajv.addFormat('uuid', isId);
// ajv-formats' date and date-time take the year 0, which PostgreSQL has not: from the year 1 (UTC) on.
const YEAR_ONE = Date.parse('0001-01-01T00:00:00Z');
const { date, 'date-time': dateTime } = ajv.formats as Record<string, { validate: (text: string) => boolean; compare: (a: string, b: string) => number | undefined }>;
ajv.addFormat('date', { type: 'string', validate: (text: string) => date!.validate(text) && text >= '0001', compare: date!.compare });
ajv.addFormat('date-time', { type: 'string', validate: (text: string) => dateTime!.validate(text) && Date.parse(text) >= YEAR_ONE, compare: dateTime!.compare });

/** A JSON schema as ajv accepts it. */
export type JsonSchema = Record<string, unknown>;

/**
 * Compiles `schema` once and returns a function that checks a value, throwing BAD_USER_INPUT with
 * `fields` (paths prefixed with `root`, e.g. `input.email`) when it does not match. `messages`
 * replaces ajv's wording for a property (by name, wherever it sits) when its value is wrong — ajv
 * words a `pattern` error with the regular expression itself, which people cannot read.
 */
export function createValidator<T>(schema: JsonSchema, root = 'input', messages: Record<string, string> = {}): (value: unknown) => T {
  const validate: ValidateFunction = ajv.compile(schema);
  return (value: unknown): T => {
    const valid = validate(value);
    const refused = unstorableText(value, root, {});
    if (valid && !Object.keys(refused).length) return value as T;
    const fields = valid ? {} : fieldsFromAjv(validate.errors, root);
    for (const error of valid ? [] : (validate.errors ?? [])) {
      if (error.keyword === 'required' || error.keyword === 'additionalProperties') continue;
      const path = [root, ...error.instancePath.split('/').slice(1)].filter(Boolean).join('.');
      const friendly = messages[path.split('.').at(-1)!];
      if (friendly && path in fields) fields[path] = friendly;
    }
    throw new BadUserInputError({ ...refused, ...fields });
  };
}

/** Why PostgreSQL would refuse a string (NUL in text or jsonb; a lone UTF-16 surrogate in jsonb), if it would. */
function unstorable(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain the NUL character (\\u0000)';
  if (LONE_SURROGATE.test(text)) return 'must be well-formed Unicode (it holds half of a surrogate pair)';
  return undefined;
}

const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * The strings (and object keys) of a value that PostgreSQL would refuse, by path: refused here, by
 * field, rather than by the database as an internal error.
 */
function unstorableText(value: unknown, path: string, found: Record<string, string>): Record<string, string> {
  const at = (key: string | number) => [path, key].filter((part) => part !== '').join('.');
  if (typeof value === 'string') {
    const why = unstorable(value);
    if (why) found[path || '(root)'] = why;
  } else if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) unstorableText(item, at(index), found);
  } else if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    for (const [key, item] of Object.entries(value)) {
      const why = unstorable(key);
      if (why) found[at(key)] = why;
      else unstorableText(item, at(key), found);
    }
  }
  return found;
}

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
    if (validate(value)) return value as T;
    const fields = fieldsFromAjv(validate.errors, root);
    for (const error of validate.errors ?? []) {
      if (error.keyword === 'required' || error.keyword === 'additionalProperties') continue;
      const path = [root, ...error.instancePath.split('/').slice(1)].filter(Boolean).join('.');
      const friendly = messages[path.split('.').at(-1)!];
      if (friendly && path in fields) fields[path] = friendly;
    }
    throw new BadUserInputError(fields);
  };
}

import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { BadUserInputError, fieldsFromAjv } from './graphql/errors.ts';

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/**
 * The kernel's shared ajv instance: every error reported, defaults applied, unknown fields refused
 * where a schema says `additionalProperties: false`. Modules compile their input schemas with it.
 */
export const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, coerceTypes: false });
addFormats(ajv);

/** A JSON schema as ajv accepts it. */
export type JsonSchema = Record<string, unknown>;

/**
 * Compiles `schema` once and returns a function that checks a value, throwing BAD_USER_INPUT with
 * `fields` (paths prefixed with `root`, e.g. `input.email`) when it does not match.
 */
export function createValidator<T>(schema: JsonSchema, root = 'input'): (value: unknown) => T {
  const validate: ValidateFunction = ajv.compile(schema);
  return (value: unknown): T => {
    if (!validate(value)) throw new BadUserInputError(fieldsFromAjv(validate.errors, root));
    return value as T;
  };
}

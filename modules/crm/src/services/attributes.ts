import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { BadUserInputError, createValidator, fieldsFromAjv, LockMode, type EntityManager, type Viewer } from '@atrium/core';
import { isSupportedCountry } from 'libphonenumber-js';
import { CrmSettings } from '../entities/contact.ts';

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/**
 * Companies write their own schemas: a separate ajv that never applies defaults or coerces (custom
 * attributes are stored as given) and refuses unknown keywords, so that a typo in a schema is an
 * error when the schema is saved rather than a rule that silently checks nothing.
 */
const companyAjv = new Ajv({ allErrors: true, strict: true, useDefaults: false, coerceTypes: false, validateSchema: true });
addFormats(companyAjv);

/** The largest schema a company may save (compiled schemas are cached per text). */
const MAX_SCHEMA_BYTES = 32 * 1024;
const compiled = new Map<string, ValidateFunction>();

function compile(schema: Record<string, unknown>): ValidateFunction {
  const text = JSON.stringify(schema);
  let validate = compiled.get(text);
  if (!validate) {
    validate = companyAjv.compile(schema);
    // A small bounded cache: schemas change rarely, companies are many.
    if (compiled.size >= 500) compiled.delete(compiled.keys().next().value!);
    compiled.set(text, validate);
  }
  return validate;
}

/** Checks a schema a company wants to save: valid JSON schema of an object, within size. Throws BAD_USER_INPUT at `path`. */
export function checkAttributeSchema(schema: unknown, path: string): Record<string, unknown> {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) throw new BadUserInputError({ [path]: 'must be a JSON schema object' });
  if (JSON.stringify(schema).length > MAX_SCHEMA_BYTES) throw new BadUserInputError({ [path]: `must be at most ${MAX_SCHEMA_BYTES} bytes` });
  const { $id, $async } = schema as { $id?: unknown; $async?: unknown };
  if ($id !== undefined || $async !== undefined) throw new BadUserInputError({ [path]: 'must not use $id or $async' });
  try {
    compile(schema as Record<string, unknown>);
  } catch (error) {
    throw new BadUserInputError({ [path]: `is not a valid JSON schema: ${(error as Error).message}` });
  }
  if ((schema as { type?: unknown }).type !== undefined && (schema as { type?: unknown }).type !== 'object') {
    throw new BadUserInputError({ [path]: 'must describe an object (type "object")' });
  }
  return schema as Record<string, unknown>;
}

/** The company's settings (defaults until saved once). */
export async function readSettings(em: EntityManager): Promise<Pick<CrmSettings, 'contactAttributeSchema' | 'defaultPhoneCountry'>> {
  return (await em.findOne(CrmSettings, {})) ?? { contactAttributeSchema: {}, defaultPhoneCountry: null };
}

/** Checks custom attributes against the company's schema; errors name the attribute paths under `path`. */
export function checkAttributes(schema: Record<string, unknown>, attributes: unknown, path: string): Record<string, unknown> {
  if (attributes === null || typeof attributes !== 'object' || Array.isArray(attributes)) throw new BadUserInputError({ [path]: 'must be an object' });
  const validate = compile(schema);
  if (!validate(attributes)) throw new BadUserInputError(fieldsFromAjv(validate.errors, path));
  return attributes as Record<string, unknown>;
}

const validateSettings = createValidator<{ contactAttributeSchema?: Record<string, unknown>; defaultPhoneCountry?: string | null }>({
  type: 'object',
  additionalProperties: false,
  properties: {
    contactAttributeSchema: { type: 'object' },
    defaultPhoneCountry: { type: ['string', 'null'], pattern: '^[A-Z]{2}$' },
  },
});

/**
 * Saves the company's CRM settings. A new attribute schema applies to contacts written from now on;
 * stored contacts are not re-checked (their attributes are re-checked when next updated).
 */
export async function updateSettings(em: EntityManager, viewer: Viewer, input: unknown): Promise<CrmSettings> {
  const changes = validateSettings(input);
  if (changes.defaultPhoneCountry && !isSupportedCountry(changes.defaultPhoneCountry)) {
    throw new BadUserInputError({ 'input.defaultPhoneCountry': 'is not a country with phone numbering' });
  }
  if (changes.contactAttributeSchema !== undefined) checkAttributeSchema(changes.contactAttributeSchema, 'input.contactAttributeSchema');
  return em.transactional(async (tx) => {
    // The row is made by whichever first save gets there (two at once would both insert it), then
    // locked, so that saves at once apply one after the other.
    await tx.execute('insert into crm_settings (company_id) values (?) on conflict do nothing', [viewer.companyId]);
    const settings = await tx.findOneOrFail(CrmSettings, {}, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
    tx.assign(settings, changes);
    return settings;
  });
}

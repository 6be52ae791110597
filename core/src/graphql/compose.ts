import {
  buildASTSchema,
  concatAST,
  Kind,
  parse,
  type DefinitionNode,
  type DocumentNode,
  type GraphQLSchema,
} from 'graphql';
import { PluginError } from '../plugin/registry.ts';

/** The GraphQL one module (or the kernel) contributes. */
export interface SchemaPart {
  module: string;
  typeDefs: string;
}

/** One schema for every company, with the module that owns each type and field. */
export interface ComposedSchema {
  schema: GraphQLSchema;
  /** `Type` → owning module. */
  typeOwners: ReadonlyMap<string, string>;
  /** `Type.field` → owning module (root fields, and fields a module adds to another's type). */
  fieldOwners: ReadonlyMap<string, string>;
}

const ROOT_TYPES = new Set(['Query', 'Mutation', 'Subscription']);

type NamedDefinition = Extract<DefinitionNode, { name: { value: string } }>;

/**
 * Composes the modules' SDL into one schema. Root fields are added by extension; a module may
 * also extend another module's types. Two modules defining the same type or field is refused.
 */
export function composeSchema(parts: SchemaPart[]): ComposedSchema {
  const typeOwners = new Map<string, string>();
  const fieldOwners = new Map<string, string>();
  const documents: DocumentNode[] = [];
  const usedRoots = new Set<string>(['Query']);

  for (const part of parts) {
    let document: DocumentNode;
    try {
      document = parse(part.typeDefs);
    } catch (error) {
      throw new PluginError(`Module "${part.module}" has invalid GraphQL typeDefs: ${(error as Error).message}`, [part.module]);
    }
    const definitions = document.definitions.map((definition) => {
      if (!('name' in definition) || !definition.name) return definition;
      const named = definition as NamedDefinition;
      const typeName = named.name.value;
      const isRoot = ROOT_TYPES.has(typeName);
      const isExtension = named.kind.endsWith('Extension') || (isRoot && part.module !== 'core');
      if (isRoot) usedRoots.add(typeName);
      if (!isExtension && named.kind !== Kind.DIRECTIVE_DEFINITION) {
        const owner = typeOwners.get(typeName);
        if (owner) throw new PluginError(`Modules "${owner}" and "${part.module}" both define the GraphQL type ${typeName}`, [owner, part.module]);
        typeOwners.set(typeName, part.module);
      }
      if ('fields' in named && named.fields) {
        for (const field of named.fields) {
          const key = `${typeName}.${field.name.value}`;
          const owner = fieldOwners.get(key);
          if (owner) throw new PluginError(`Modules "${owner}" and "${part.module}" both define the GraphQL field ${key}`, [owner, part.module]);
          fieldOwners.set(key, part.module);
        }
      }
      // A module writing `type Query { … }` means an extension of the kernel's root type.
      if (isRoot && named.kind === Kind.OBJECT_TYPE_DEFINITION && part.module !== 'core') {
        return { ...named, kind: Kind.OBJECT_TYPE_EXTENSION } as DefinitionNode;
      }
      return definition;
    });
    documents.push({ ...document, definitions });
  }

  const roots = [...usedRoots].filter((root) => !typeOwners.has(root)).map((root) => `type ${root}`).join('\n');
  if (roots) documents.unshift(parse(roots));
  for (const root of usedRoots) if (!typeOwners.has(root)) typeOwners.set(root, 'core');

  let schema: GraphQLSchema;
  try {
    schema = buildASTSchema(concatAST(documents));
  } catch (error) {
    throw new PluginError(`The modules' GraphQL does not compose: ${(error as Error).message}`, parts.map((p) => p.module));
  }
  return { schema, typeOwners, fieldOwners };
}

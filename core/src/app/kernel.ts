import { readFileSync } from 'node:fs';
import type { IResolvers } from 'mercurius';
import { connectionTypeDefs } from '../graphql/connection.ts';
import { DateTimeScalar, DecimalScalar, JSONScalar } from '../graphql/scalars.ts';
import type { ResolvedPlugin } from '../plugin/registry.ts';

/** The version of @atrium/core. */
export const CORE_VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

/** The kernel's own part of the schema: scalars, PageInfo and the `atrium` info query. */
export const kernelTypeDefs = /* GraphQL */ `
  "An ISO-8601 timestamp in UTC."
  scalar DateTime
  "An exact decimal number as a string, e.g. \\"12.50\\"."
  scalar Decimal
  "Any JSON value."
  scalar JSON
  ${connectionTypeDefs}
  "A module installed in this app."
  type AtriumModule {
    name: String!
    version: String!
    dependsOn: [String!]!
  }
  "The running Atrium kernel and its modules."
  type AtriumInfo {
    version: String!
    "Installed modules, in start-up (dependency) order."
    modules: [AtriumModule!]!
  }
  type Query {
    "The kernel version and the installed modules."
    atrium: AtriumInfo!
  }
`;

export function kernelResolvers(modules: readonly ResolvedPlugin[]): IResolvers {
  const info = {
    version: CORE_VERSION,
    modules: modules.map(({ plugin }) => ({ name: plugin.name, version: plugin.version, dependsOn: plugin.dependsOn ?? [] })),
  };
  return {
    DateTime: DateTimeScalar,
    Decimal: DecimalScalar,
    JSON: JSONScalar,
    Query: { atrium: () => info },
  } as unknown as IResolvers;
}

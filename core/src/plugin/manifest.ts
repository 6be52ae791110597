import type { FastifyInstance } from 'fastify';
import type { IResolvers, MercuriusLoaders } from 'mercurius';
import type { EntitySchema, MikroORM } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/sql';
import type { JsonSchema } from '../validation.ts';
import type { Publish } from '../graphql/subscriptions.ts';
import type { JobDefinition } from '../jobs/jobs.ts';
import type { Kernel } from '../tenancy/kernel.ts';

/** A permission key a module declares: `<module>.<area>.<action>`. */
export interface PermissionDeclaration {
  key: string;
  /** The entity (CASL subject) the key is about. */
  subject: string;
  /** CASL actions the key grants on the subject. */
  actions: string[];
  description: string;
  /** The subject carries a `branchId`: MEMBERs holding the key reach only their branches' rows. */
  branchScoped?: boolean;
  /** Field-level grant: the key covers only these fields of the subject (absent: every field). */
  fields?: string[];
}

/** An event a module emits: `<module>.<noun>.<verb>`, with a JSON schema for its payload. */
export interface EventDeclaration {
  schema: JsonSchema;
  description?: string;
}

/** A domain event as listeners receive it. */
export interface DomainEvent<Payload = unknown> {
  id: string;
  name: string;
  companyId: string | null;
  payload: Payload;
  occurredAt: Date;
}

/**
 * A module's reaction to an event. It runs after the emitting transaction committed, in a
 * transaction of its own (`context.em`, scoped to the event's company), and is retried with backoff
 * until it succeeds: make it idempotent by the event id.
 */
export type EventListener = (event: DomainEvent, context: ListenerContext) => void | Promise<void>;

/** What a listener is given: its module's context and an EntityManager inside the listener's transaction. */
export interface ListenerContext extends ModuleContext {
  em: EntityManager;
}

/** What a module's `setup` and listeners are given. */
export interface ModuleContext<Config = unknown> {
  /** The module's own encapsulated Fastify context (routes such as incoming webhooks go here). */
  fastify: FastifyInstance;
  orm: MikroORM;
  /** The kernel's shared services (rate limiter, presence, queues, events) — jobs and listeners need them too. */
  kernel: Kernel;
  /** The module's validated options. */
  config: Config;
  publish: Publish;
}

/** The company a per-tenant lifecycle hook is about. */
export interface TenantContext {
  companyId: string;
  /** Scoped to the company: reads filtered, writes stamped. Runs inside the enabling transaction. */
  em: EntityManager;
}

/** The GraphQL a module contributes to the one composed schema. */
export interface PluginGraphQL {
  /** SDL; root fields are added with `extend type Query|Mutation|Subscription`. */
  typeDefs: string;
  resolvers?: IResolvers;
  loaders?: MercuriusLoaders;
}

/**
 * An Atrium plugin (module) manifest. `name` is the module key: the plan feature key and the
 * permission prefix.
 */
export interface AtriumPlugin<Config = unknown> {
  name: string;
  /** Semver version of the module. */
  version: string;
  /** Hard dependencies: module names, each optionally with a semver range (`crm@^1`). */
  dependsOn?: string[];
  /** MikroORM `defineEntity()` schemas. */
  entities?: EntitySchema<any, any>[];
  /** Folder of the module's SQL migrations (`<sortable-id>_<name>.sql`). */
  migrations?: URL;
  permissions?: PermissionDeclaration[];
  graphql?: PluginGraphQL;
  /**
   * Root fields anyone may call without signing in (e.g. a public widget API). Every other field of
   * the module needs an authenticated caller whose company has the module enabled.
   */
  publicFields?: string[];
  /** Events this module emits. */
  events?: Record<string, EventDeclaration>;
  /** Events this module listens to. */
  on?: Record<string, EventListener>;
  /**
   * Background jobs (`<module>.<name>`): periodic ones (`every` ms) run at most once per period
   * across instances; others run when enqueued with `enqueueJob`, retried with backoff.
   */
  jobs?: Record<string, JobDefinition>;
  /** ajv JSON schema of the module's options (`createApp({ config: { modules: { <name>: … } } })`). */
  config?: { schema: JsonSchema };
  /** Fastify-level additions, run once at start in the module's own encapsulated context. */
  setup?: (context: ModuleContext<Config>) => void | Promise<void>;
  /** A company's plan turned this module on: seed its defaults. Runs once per company. */
  onEnable?: (tenant: TenantContext) => void | Promise<void>;
}

const NAME = /^[a-z][a-zA-Z0-9]*$/;

/**
 * Declares a module. The manifest is checked for shape here; how it fits with the other modules
 * (dependencies, versions, config) is checked when the app is created.
 */
export function definePlugin<Config = unknown>(plugin: AtriumPlugin<Config>): AtriumPlugin<Config> {
  if (!NAME.test(plugin.name)) {
    throw new TypeError(`Module name "${plugin.name}" must be camelCase letters and digits (it prefixes permission keys)`);
  }
  for (const permission of plugin.permissions ?? []) {
    if (!permission.key.startsWith(`${plugin.name}.`)) {
      throw new TypeError(`Module "${plugin.name}": permission key "${permission.key}" must start with "${plugin.name}."`);
    }
  }
  for (const job of Object.keys(plugin.jobs ?? {})) {
    if (!job.startsWith(`${plugin.name}.`)) throw new TypeError(`Module "${plugin.name}": job "${job}" must start with "${plugin.name}."`);
  }
  for (const event of Object.keys(plugin.events ?? {})) {
    if (!event.startsWith(`${plugin.name}.`)) {
      throw new TypeError(`Module "${plugin.name}": event "${event}" must start with "${plugin.name}."`);
    }
  }
  return Object.freeze({ ...plugin });
}

/**
 * `@atrium/core` — the Atrium kernel: compose modules into one GraphQL API over Fastify and MikroORM.
 * @packageDocumentation
 */
export { createApp, type AtriumApp, type CreateAppOptions } from './app/createApp.ts';
export { runApp } from './app/run.ts';
export {
  resolveConfig,
  ConfigError,
  type AtriumConfig,
  type AuthConfig,
  type EventsConfig,
  type AtriumConfigInput,
  type Environment,
  type GraphQLLimits,
  type LogLevel,
} from './app/config.ts';
export type { AtriumRequestContext } from './app/context.ts';
export { CORE_VERSION } from './app/kernel.ts';
export {
  definePlugin,
  type AtriumPlugin,
  type DomainEvent,
  type EventDeclaration,
  type EventListener,
  type ListenerContext,
  type ModuleContext,
  type PermissionDeclaration,
  type PluginGraphQL,
  type TenantContext,
} from './plugin/manifest.ts';
export { resolvePlugins, parseDependency, PluginError, type Dependency, type ResolvedPlugin } from './plugin/registry.ts';
export { composeSchema, type ComposedSchema, type SchemaPart } from './graphql/compose.ts';
export {
  AtriumError,
  BadUserInputError,
  conflict,
  fieldsFromAjv,
  forbidden,
  notFound,
  type ErrorCode,
} from './graphql/errors.ts';
export { paginate, paginateRows, nodeFields, accessibleRows, type RowSelection, pageArgs, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE, type Connection, type ConnectionArgs } from './graphql/connection.ts';
export { DateTimeScalar, DecimalScalar, JSONScalar } from './graphql/scalars.ts';
export { subscription, topic, type Publish, type SubscriptionOptions, type SubscriptionResolver, type Topic } from './graphql/subscriptions.ts';
export { ajv, createValidator, type JsonSchema } from './validation.ts';
export { newId, isId } from './db/ids.ts';
export { arrayParam } from './db/array-param.ts';
export { executePrepared, flushAndCommit, type ExecuteOptions } from './db/prepared.ts';
export { lockById } from './db/rows.ts';
export { sqlCondition, allOf, type SqlCondition } from './db/sql-condition.ts';
export { cents, createdAt, decimal, MAX_CENTS, money, MONEY_PATTERN, primaryId } from './db/columns.ts';
export { flushOrConflict } from './db/unique.ts';
export { MAX_TRANSACTION_ATTEMPTS, transactionWithRetry } from './db/retry.ts';
export { afterCommit } from './db/after-commit.ts';
export { referenceLoader, type LoaderQuery } from './graphql/loaders.ts';
export { accessibleWhere, accessibleSql, accessibleFieldWhere, assertReadableFields, buildAbility, type AbilityInput, type AppAbility, type WhereClause } from './access/ability.ts';
export { requirePermission, requireViewer, enabledModules, viewerFact, type Viewer } from './access/viewer.ts';
export { assertModuleEnabled, type GateContext } from './access/gate.ts';
export { corePermissions, PermissionRegistry, type PermissionDefinition } from './access/permissions.ts';
export { MemoryRateLimiter, type RateLimiter, type RateLimitResult } from './shared/rate-limit.ts';
export { MemoryPresenceStore, type PresenceStore } from './shared/presence.ts';
export { MemorySharedQueues, type SharedQueues } from './shared/queue.ts';
export type { Infrastructure } from './shared/infrastructure.ts';
export { hashPassword, verifyPassword, OWASP_SCRYPT_COST } from './auth/passwords.ts';
export { accessChanged, companyEm, scopeToCompany, systemEm, type Kernel, type ServiceContext } from './tenancy/kernel.ts';
export type { AccessClaims, AccessTokenSigner } from './auth/tokens.ts';
export {
  Plan,
  Company,
  CompanyModule,
  Branch,
  Role,
  User,
  RefreshToken,
  ApiKey,
  SYSTEM_ROLES,
  type SystemRole,
  type PlanLimits,
} from './tenancy/entities.ts';
export { isTenantEntity, type TenantFilterParams } from './db/orm.ts';
export { EventRegistry, insertEvents, type Emit } from './events/outbox.ts';
export { EventDispatcher, eventTopic, type DispatcherLog, type DispatcherOptions } from './events/dispatcher.ts';
export { nextAttempt, type BackoffOptions } from './events/backoff.ts';
export { OutboxEvent } from './events/entities.ts';
export {
  enqueueJob,
  Job,
  JobRunner,
  type JobContext,
  type JobDefinition,
  type JobRegistration,
  type JobRun,
  type JobRunnerLog,
  type JobRunnerOptions,
} from './jobs/jobs.ts';
export {
  notify,
  loggingChannel,
  Notification,
  NOTIFICATION_CREATED,
  type NotifyInput,
  type NotificationChannel,
  type NotificationLink,
  type ChannelMessage,
} from './notifications/notifications.ts';
export { openOrm, type DatabaseTarget, type OrmOptions } from './db/orm.ts';
export { generateMigration, type GenerateMigrationOptions, type GeneratedMigration } from './db/generate.ts';
export { runMigrations, readMigrations, MigrationError, type MigrationFile, type MigrationLog } from './db/migrations.ts';

// Plugin authors define entities and resolvers with the kernel's own MikroORM and mercurius.
export { Cursor, defineEntity, LockMode, p, raw, type FilterQuery, type InferEntity } from '@mikro-orm/core';
export type { EntityManager } from '@mikro-orm/sql';
export type { IResolvers as Resolvers, MercuriusContext as ResolverContext, MercuriusLoaders as Loaders } from 'mercurius';

import { Ajv } from 'ajv';
import type { JsonSchema } from '../validation.ts';

export type Environment = 'development' | 'production' | 'test';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Limits the GraphQL endpoint enforces on every operation. */
export interface GraphQLLimits {
  /** Deepest field nesting allowed. */
  maxDepth: number;
  /** Highest estimated cost: every field costs 1, multiplied by the `first` of the lists above it. */
  maxComplexity: number;
  /** Most aliased fields in one operation. */
  maxAliases: number;
}

/** Sign-in, sessions and password hashing. */
export interface AuthConfig {
  /** HMAC key of access tokens (at least 32 characters). Required in production. */
  jwtSecret?: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /** log2 of scrypt's N; 17 is OWASP's minimum. Lower only in tests. */
  passwordCost: number;
  loginAttemptsPerIp: number;
  loginAttemptsPerEmail: number;
  loginWindowSeconds: number;
  signUpsPerHourPerIp: number;
  /** A live subscription re-reads its caller's access at most this often (0: before every event). */
  subscriptionRecheckMs: number;
  /**
   * How long a request may trust a cached caller without re-reading its access stamp. Changes on
   * the same instance apply at once; other instances see them within this interval (0: every request).
   */
  accessRecheckMs: number;
}

/** The outbox dispatcher. */
export interface EventsConfig {
  /** How often the outbox is polled (commits here wake it at once). */
  pollMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  maxAttempts: number;
  /** Days dispatched events (and so the webhook delivery log) are kept. */
  retentionDays: number;
  /** How long a webhook endpoint may take to answer. */
  webhookTimeoutMs: number;
  /** Failed deliveries in a row after which a webhook is disabled (and the owners notified). */
  webhookDisableAfter: number;
}

/** The resolved configuration of an Atrium app. */
export interface AtriumConfig {
  env: Environment;
  port: number;
  host: string;
  /** `postgres://…` for PostgreSQL; absent for the embedded PGlite database. */
  databaseUrl?: string;
  /** Where the embedded database and development secrets live. */
  dataDir: string;
  logLevel: LogLevel;
  /** Run pending module migrations at start. */
  migrate: boolean;
  graphiql: boolean;
  introspection: boolean;
  graphql: GraphQLLimits;
  /** Largest accepted request body, in bytes. */
  bodyLimit: number;
  /** How long `stop()` waits for in-flight requests before closing them. */
  shutdownTimeoutMs: number;
  /** Options per module name, validated against each module's config schema. */
  moduleConfig: Record<string, unknown>;
  auth: AuthConfig;
  /** The platform operator's key (header x-atrium-platform-key); absent: no platform API. */
  platformKey?: string;
  /** Plan code of new companies; `default` (every installed module) is created on first use. */
  defaultPlan: string;
  /** Run tenant requests under PostgreSQL row-level security (role atrium_tenant). */
  rowLevelSecurity: boolean;
  events: EventsConfig;
  /** HTTP requests allowed per client address per minute (0: no limit). */
  httpRateLimit: number;
  /**
   * Events a subscription may have waiting to be sent before the server gives up on the client
   * (closes it with 1013, try again later): one slow client cannot grow the server's memory without bound.
   */
  subscriptionMaxQueuedEvents: number;
  /** How often an idle WebSocket is pinged (graphql-ws `ping`), keeping proxies from cutting it. */
  subscriptionKeepAliveMs: number;
}

/** Options accepted by `createApp`; anything left out comes from the environment or a default. */
export type AtriumConfigInput = Partial<Omit<AtriumConfig, 'graphql' | 'auth' | 'events'>> & {
  graphql?: Partial<GraphQLLimits>;
  auth?: Partial<AuthConfig>;
  events?: Partial<EventsConfig>;
};

/** A configuration value that does not validate; `variable` names where it came from. */
export class ConfigError extends Error {
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`Invalid configuration: ${variable} ${message}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

/** Environment variables and the config path each one sets. */
const ENVIRONMENT: Record<string, string> = {
  NODE_ENV: 'env',
  PORT: 'port',
  HOST: 'host',
  DATABASE_URL: 'databaseUrl',
  ATRIUM_DATA_DIR: 'dataDir',
  LOG_LEVEL: 'logLevel',
  ATRIUM_MIGRATE: 'migrate',
  ATRIUM_GRAPHIQL: 'graphiql',
  ATRIUM_INTROSPECTION: 'introspection',
  ATRIUM_MAX_DEPTH: 'graphql.maxDepth',
  ATRIUM_MAX_COMPLEXITY: 'graphql.maxComplexity',
  ATRIUM_MAX_ALIASES: 'graphql.maxAliases',
  ATRIUM_BODY_LIMIT: 'bodyLimit',
  ATRIUM_SHUTDOWN_TIMEOUT_MS: 'shutdownTimeoutMs',
  JWT_SECRET: 'auth.jwtSecret',
  ATRIUM_ACCESS_TOKEN_TTL: 'auth.accessTokenTtlSeconds',
  ATRIUM_REFRESH_TOKEN_TTL: 'auth.refreshTokenTtlSeconds',
  ATRIUM_PASSWORD_COST: 'auth.passwordCost',
  ATRIUM_PLATFORM_KEY: 'platformKey',
  ATRIUM_DEFAULT_PLAN: 'defaultPlan',
  ATRIUM_ROW_LEVEL_SECURITY: 'rowLevelSecurity',
  ATRIUM_HTTP_RATE_LIMIT: 'httpRateLimit',
  ATRIUM_EVENTS_POLL_MS: 'events.pollMs',
  ATRIUM_EVENTS_RETENTION_DAYS: 'events.retentionDays',
};

const configSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    env: { enum: ['development', 'production', 'test'] },
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    host: { type: 'string', minLength: 1 },
    databaseUrl: { type: 'string', pattern: '^postgres(ql)?://' },
    dataDir: { type: 'string', minLength: 1 },
    logLevel: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
    migrate: { type: 'boolean' },
    graphiql: { type: 'boolean' },
    introspection: { type: 'boolean' },
    graphql: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxDepth: { type: 'integer', minimum: 1 },
        maxComplexity: { type: 'integer', minimum: 1 },
        maxAliases: { type: 'integer', minimum: 0 },
      },
    },
    bodyLimit: { type: 'integer', minimum: 1024 },
    shutdownTimeoutMs: { type: 'integer', minimum: 0 },
    moduleConfig: { type: 'object' },
    auth: {
      type: 'object',
      additionalProperties: false,
      properties: {
        jwtSecret: { type: 'string', minLength: 32 },
        accessTokenTtlSeconds: { type: 'integer', minimum: 1 },
        refreshTokenTtlSeconds: { type: 'integer', minimum: 60 },
        passwordCost: { type: 'integer', minimum: 10, maximum: 20 },
        loginAttemptsPerIp: { type: 'integer', minimum: 1 },
        loginAttemptsPerEmail: { type: 'integer', minimum: 1 },
        loginWindowSeconds: { type: 'integer', minimum: 1 },
        signUpsPerHourPerIp: { type: 'integer', minimum: 1 },
        subscriptionRecheckMs: { type: 'integer', minimum: 0 },
        accessRecheckMs: { type: 'integer', minimum: 0 },
      },
    },
    platformKey: { type: 'string', minLength: 24 },
    defaultPlan: { type: 'string', minLength: 1 },
    rowLevelSecurity: { type: 'boolean' },
    httpRateLimit: { type: 'integer', minimum: 0 },
    subscriptionMaxQueuedEvents: { type: 'integer', minimum: 1 },
    subscriptionKeepAliveMs: { type: 'integer', minimum: 10 },
    events: {
      type: 'object',
      additionalProperties: false,
      properties: {
        pollMs: { type: 'integer', minimum: 10 },
        retryBaseMs: { type: 'integer', minimum: 1 },
        retryMaxMs: { type: 'integer', minimum: 1 },
        maxAttempts: { type: 'integer', minimum: 1 },
        retentionDays: { type: 'number', minimum: 0 },
        webhookTimeoutMs: { type: 'integer', minimum: 1 },
        webhookDisableAfter: { type: 'integer', minimum: 1 },
      },
    },
  },
};

const configAjv = new Ajv({ allErrors: false, coerceTypes: true, strict: true });
const validateConfig = configAjv.compile(configSchema);

/**
 * Resolves the app configuration: explicit options win, then environment variables, then defaults
 * (which depend on NODE_ENV). Throws ConfigError naming the variable or option that is wrong.
 */
export function resolveConfig(options: AtriumConfigInput = {}, env: NodeJS.ProcessEnv = process.env): AtriumConfig {
  const fromEnv: Record<string, unknown> = {};
  for (const [variable, path] of Object.entries(ENVIRONMENT)) {
    const value = env[variable];
    if (value !== undefined && value !== '') setPath(fromEnv, path, value);
  }
  const merged: Record<string, unknown> = {
    ...fromEnv,
    ...options,
    graphql: { ...(fromEnv.graphql as object), ...options.graphql },
    auth: { ...(fromEnv.auth as object), ...options.auth },
    events: { ...(fromEnv.events as object), ...options.events },
  };
  if (!validateConfig(merged)) {
    const error = validateConfig.errors![0]!;
    const path = error.instancePath.split('/').slice(1).join('.') || String(error.params.additionalProperty ?? '');
    throw new ConfigError(nameOf(path, options), `${error.message ?? 'is invalid'} (got ${JSON.stringify(readPath(merged, path))})`);
  }
  const environment = (merged.env as Environment | undefined) ?? 'development';
  const development = environment !== 'production';
  const limits = merged.graphql as Partial<GraphQLLimits>;
  const auth = merged.auth as Partial<AuthConfig>;
  const events = merged.events as Partial<EventsConfig>;
  if (environment === 'production' && !auth.jwtSecret) throw new ConfigError('JWT_SECRET', 'is required in production (at least 32 characters)');
  return {
    env: environment,
    port: (merged.port as number | undefined) ?? 4000,
    host: (merged.host as string | undefined) ?? (development ? 'localhost' : '0.0.0.0'),
    databaseUrl: merged.databaseUrl as string | undefined,
    dataDir: (merged.dataDir as string | undefined) ?? '.atrium',
    logLevel: (merged.logLevel as LogLevel | undefined) ?? (environment === 'test' ? 'silent' : 'info'),
    migrate: (merged.migrate as boolean | undefined) ?? true,
    graphiql: (merged.graphiql as boolean | undefined) ?? environment === 'development',
    introspection: (merged.introspection as boolean | undefined) ?? development,
    graphql: {
      maxDepth: limits.maxDepth ?? 12,
      maxComplexity: limits.maxComplexity ?? 20_000,
      maxAliases: limits.maxAliases ?? 30,
    },
    bodyLimit: (merged.bodyLimit as number | undefined) ?? 1024 * 1024,
    shutdownTimeoutMs: (merged.shutdownTimeoutMs as number | undefined) ?? 10_000,
    moduleConfig: (merged.moduleConfig as Record<string, unknown> | undefined) ?? {},
    auth: {
      jwtSecret: auth.jwtSecret,
      accessTokenTtlSeconds: auth.accessTokenTtlSeconds ?? 15 * 60,
      refreshTokenTtlSeconds: auth.refreshTokenTtlSeconds ?? 30 * 24 * 3600,
      passwordCost: auth.passwordCost ?? 17,
      loginAttemptsPerIp: auth.loginAttemptsPerIp ?? 100,
      loginAttemptsPerEmail: auth.loginAttemptsPerEmail ?? 10,
      loginWindowSeconds: auth.loginWindowSeconds ?? 15 * 60,
      signUpsPerHourPerIp: auth.signUpsPerHourPerIp ?? 20,
      subscriptionRecheckMs: auth.subscriptionRecheckMs ?? 1000,
      accessRecheckMs: auth.accessRecheckMs ?? 1000,
    },
    platformKey: merged.platformKey as string | undefined,
    defaultPlan: (merged.defaultPlan as string | undefined) ?? 'default',
    rowLevelSecurity: (merged.rowLevelSecurity as boolean | undefined) ?? true,
    httpRateLimit: (merged.httpRateLimit as number | undefined) ?? 1200,
    subscriptionMaxQueuedEvents: (merged.subscriptionMaxQueuedEvents as number | undefined) ?? 1000,
    subscriptionKeepAliveMs: (merged.subscriptionKeepAliveMs as number | undefined) ?? 15_000,
    events: {
      pollMs: events.pollMs ?? 1000,
      retryBaseMs: events.retryBaseMs ?? 1000,
      retryMaxMs: events.retryMaxMs ?? 10 * 60_000,
      maxAttempts: events.maxAttempts ?? 10,
      retentionDays: events.retentionDays ?? 7,
      webhookTimeoutMs: events.webhookTimeoutMs ?? 10_000,
      webhookDisableAfter: events.webhookDisableAfter ?? 20,
    },
  };
}

function nameOf(path: string, options: AtriumConfigInput): string {
  const fromOptions = readPath(options, path) !== undefined;
  if (!fromOptions) {
    const variable = Object.entries(ENVIRONMENT).find(([, p]) => p === path)?.[0];
    if (variable) return variable;
  }
  return `option "${path}"`;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    node[key] ??= {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys.at(-1)!] = value;
}

function readPath(source: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], source);
}

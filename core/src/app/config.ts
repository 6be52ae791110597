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
  /**
   * How often a subscription WebSocket is pinged (a WebSocket ping frame), keeping proxies from
   * cutting it; a socket that has not answered the previous ping by then is dropped.
   */
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
    port: { type: 'integer', minimum: 0, maximum: 65535, default: 4000 },
    host: { type: 'string', minLength: 1 },
    databaseUrl: { type: 'string', pattern: '^postgres(ql)?://' },
    dataDir: { type: 'string', minLength: 1, default: '.atrium' },
    logLevel: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
    migrate: { type: 'boolean', default: true },
    graphiql: { type: 'boolean' },
    introspection: { type: 'boolean' },
    graphql: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxDepth: { type: 'integer', minimum: 1, default: 12 },
        maxComplexity: { type: 'integer', minimum: 1, default: 20_000 },
        maxAliases: { type: 'integer', minimum: 0, default: 30 },
      },
    },
    bodyLimit: { type: 'integer', minimum: 1024, default: 1024 * 1024 },
    shutdownTimeoutMs: { type: 'integer', minimum: 0, default: 10_000 },
    moduleConfig: { type: 'object', default: {} },
    auth: {
      type: 'object',
      additionalProperties: false,
      properties: {
        jwtSecret: { type: 'string', minLength: 32 },
        accessTokenTtlSeconds: { type: 'integer', minimum: 1, default: 15 * 60 },
        refreshTokenTtlSeconds: { type: 'integer', minimum: 60, default: 30 * 24 * 3600 },
        passwordCost: { type: 'integer', minimum: 10, maximum: 20, default: 17 },
        loginAttemptsPerIp: { type: 'integer', minimum: 1, default: 100 },
        loginAttemptsPerEmail: { type: 'integer', minimum: 1, default: 10 },
        loginWindowSeconds: { type: 'integer', minimum: 1, default: 15 * 60 },
        signUpsPerHourPerIp: { type: 'integer', minimum: 1, default: 20 },
        subscriptionRecheckMs: { type: 'integer', minimum: 0, default: 1000 },
        accessRecheckMs: { type: 'integer', minimum: 0, default: 1000 },
      },
    },
    platformKey: { type: 'string', minLength: 24 },
    defaultPlan: { type: 'string', minLength: 1, default: 'default' },
    rowLevelSecurity: { type: 'boolean', default: true },
    httpRateLimit: { type: 'integer', minimum: 0, default: 1200 },
    subscriptionMaxQueuedEvents: { type: 'integer', minimum: 1, default: 1000 },
    subscriptionKeepAliveMs: { type: 'integer', minimum: 10, default: 15_000 },
    events: {
      type: 'object',
      additionalProperties: false,
      properties: {
        pollMs: { type: 'integer', minimum: 10, default: 1000 },
        retryBaseMs: { type: 'integer', minimum: 1, default: 1000 },
        retryMaxMs: { type: 'integer', minimum: 1, default: 10 * 60_000 },
        maxAttempts: { type: 'integer', minimum: 1, default: 10 },
        retentionDays: { type: 'number', minimum: 0, default: 7 },
        webhookTimeoutMs: { type: 'integer', minimum: 1, default: 10_000 },
        webhookDisableAfter: { type: 'integer', minimum: 1, default: 20 },
      },
    },
  },
};

// Static defaults live in the schema (ajv fills them in); the ones that depend on NODE_ENV are below.
const configAjv = new Ajv({ allErrors: false, coerceTypes: true, useDefaults: true, strict: true });
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
  const config = merged as unknown as AtriumConfig;
  const environment = config.env ?? 'development';
  const development = environment !== 'production';
  if (environment === 'production' && !config.auth.jwtSecret) throw new ConfigError('JWT_SECRET', 'is required in production (at least 32 characters)');
  return {
    ...config,
    env: environment,
    host: config.host ?? (development ? 'localhost' : '0.0.0.0'),
    logLevel: config.logLevel ?? (environment === 'test' ? 'silent' : 'info'),
    graphiql: config.graphiql ?? environment === 'development',
    introspection: config.introspection ?? development,
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

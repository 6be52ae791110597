import { AsyncResource } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import fastifyWebsocket from '@fastify/websocket';
import fastifyJwt from '@fastify/jwt';
import fastifyRateLimit from '@fastify/rate-limit';
import mqemitter from 'mqemitter';
import mercurius, { type IResolvers, type MercuriusContext, type MercuriusLoaders } from 'mercurius';
import { GraphQLError, NoSchemaIntrospectionCustomRule, specifiedRules, validate, type FormattedExecutionResult } from 'graphql';
import type { MikroORM } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/sql';
import { resolveConfig, type AtriumConfig, type AtriumConfigInput } from './config.ts';
import { kernelResolvers, kernelTypeDefs } from './kernel.ts';
import type { AtriumRequestContext } from './context.ts';
import { resolvePlugins, PluginError, type ResolvedPlugin } from '../plugin/registry.ts';
import type { AtriumPlugin, ModuleContext } from '../plugin/manifest.ts';
import { composeSchema, type ComposedSchema } from '../graphql/compose.ts';
import { costLimitRule } from '../graphql/limits.ts';
import { loaderResolvers } from '../graphql/loaders.ts';
import { socketSender, SubscriptionHub, type Emitter, type SubscriptionConnection } from '../graphql/delivery.ts';
import { statusOf, toPublicError } from '../graphql/errors.ts';
import type { Publish, Topic } from '../graphql/subscriptions.ts';
import { openOrm, ping, type DatabaseTarget } from '../db/orm.ts';
import { runMigrations } from '../db/migrations.ts';
import { kernelEntities } from '../tenancy/entities.ts';
import { tenancyTypeDefs } from '../tenancy/schema.ts';
import { tenancyResolvers } from '../tenancy/resolvers.ts';
import { scopeToCompany, type Kernel } from '../tenancy/kernel.ts';
import { PermissionRegistry } from '../access/permissions.ts';
import { gateResolvers } from '../access/gate.ts';
import { authenticate, isPlatformKey } from '../access/authenticate.ts';
import type { Viewer } from '../access/viewer.ts';
import { MemoryRateLimiter } from '../shared/rate-limit.ts';
import { MemoryPresenceStore } from '../shared/presence.ts';
import { MemorySharedQueues } from '../shared/queue.ts';
import type { Infrastructure } from '../shared/infrastructure.ts';
import { loggingChannel, Notification, NOTIFICATION_CREATED, type NotificationChannel } from '../notifications/notifications.ts';
import { notificationResolvers, notificationTypeDefs } from '../notifications/schema.ts';
import { sendToChannels } from '../notifications/channels.ts';
import { Webhook } from '../webhooks/webhooks.ts';
import { webhookResolvers, webhookTypeDefs } from '../webhooks/schema.ts';
import { Job, JobRunner, type JobDefinition } from '../jobs/jobs.ts';
import { hashPassword } from '../auth/passwords.ts';
import { cachingVerifier, type AccessClaims } from '../auth/tokens.ts';
import { resolveJwtSecret } from '../auth/secret.ts';
import { AtriumError } from '../graphql/errors.ts';
import { OutboxEvent } from '../events/entities.ts';
import { EventRegistry, wakeAfterInsertedEvents } from '../events/outbox.ts';
import { EventDispatcher } from '../events/dispatcher.ts';
import { LiveAccess } from '../access/live-access.ts';
import { afterCommit, afterCommitSubscriber } from '../db/after-commit.ts';
import { entryOf } from '../shared/entry.ts';

/** Options of `createApp`: the modules, and configuration that overrides the environment. */
export interface CreateAppOptions extends AtriumConfigInput {
  modules?: AtriumPlugin<any>[];
  /** Where the data lives; by default chosen from `databaseUrl` / `dataDir`. */
  database?: DatabaseTarget;
  /** Environment to read configuration from (default `process.env`). */
  environment?: NodeJS.ProcessEnv;
  /** State shared with other instances (default: in memory, this instance only). */
  infrastructure?: Infrastructure;
  /** Outside channels for notifications (default: `email` and `sms` channels that log). */
  notificationChannels?: NotificationChannel[];
}

/** A composed Atrium application. */
export interface AtriumApp {
  readonly config: AtriumConfig;
  /** Installed modules in dependency order, with their validated options. */
  readonly modules: readonly ResolvedPlugin[];
  /** The composed GraphQL schema and who owns what in it. */
  readonly schema: ComposedSchema;
  /** The Fastify instance (available after `start()`). */
  readonly fastify: FastifyInstance;
  /** The ORM (available after `start()`). */
  readonly orm: MikroORM;
  /** The kernel's services: permissions, rate limiter, token signer (after `start()`). */
  readonly kernel: Kernel;
  /** `http://host:port` the app listens on (after `start()`). */
  readonly url: string;
  readonly publish: Publish;
  /**
   * Kernel lifecycle notices: `started`, `stopping`, and `subscription` (a subscription started
   * listening to its topic; the test kit waits for it before publishing).
   */
  readonly lifecycle: EventEmitter;
  /** The outbox dispatcher (after `start()`): `idle()` resolves when every event is delivered. */
  readonly dispatcher: EventDispatcher;
  /** The background job runner (after `start()`): `tick()` runs what is due now. */
  readonly jobs: JobRunner;
  /**
   * Resolves once every live event this instance has received has been offered to its subscribers
   * and decided for each (after `start()`): a test's proof that a socket that has not received an
   * event never will.
   */
  liveIdle(): Promise<void>;
  /** Opens the database, runs pending migrations, sets up modules and listens. */
  start(): Promise<void>;
  /**
   * Stops gracefully: new requests get 503, in-flight requests finish (up to `shutdownTimeoutMs`),
   * WebSocket clients get close code 1001, then the server and the ORM close.
   */
  stop(): Promise<void>;
}

const CORE_MODULE = 'core';

/**
 * Composes the kernel with modules. Configuration and the module set are checked here (a
 * ConfigError or PluginError is thrown); the database opens and the server listens on `start()`.
 */
export function createApp(options: CreateAppOptions = {}): AtriumApp {
  const { modules: plugins = [], database, environment, infrastructure = {}, notificationChannels, ...configInput } = options;
  const config = resolveConfig(configInput, environment);
  if (plugins.some((plugin) => plugin.name === CORE_MODULE)) {
    throw new PluginError(`The module name "${CORE_MODULE}" is reserved for the kernel`, [CORE_MODULE]);
  }
  const modules = resolvePlugins(plugins, config.moduleConfig);
  const permissions = new PermissionRegistry(modules);
  const schema = composeSchema([
    { module: CORE_MODULE, typeDefs: [kernelTypeDefs, tenancyTypeDefs, notificationTypeDefs, webhookTypeDefs].join('\n') },
    ...modules.filter(({ plugin }) => plugin.graphql).map(({ plugin }) => ({ module: plugin.name, typeDefs: plugin.graphql!.typeDefs })),
  ]);
  const resolverSets: IResolvers[] = [kernelResolvers(modules), tenancyResolvers, notificationResolvers, webhookResolvers];
  for (const { plugin } of modules) {
    const resolvers = withLoaders(plugin.name, plugin.graphql?.resolvers ?? {}, plugin.graphql?.loaders);
    assertOwnsResolvers(plugin.name, resolvers, schema);
    resolverSets.push(gateResolvers(plugin.name, resolvers, schema, plugin.publicFields ?? []));
  }
  // Sockets without credentials are refused, unless a module serves public subscriptions (a website
  // widget's): then they are accepted, and every other subscription answers them UNAUTHENTICATED.
  const publicSubscriptions = modules.some(({ plugin }) => (plugin.publicFields ?? []).some((field) => schema.fieldOwners.get(`Subscription.${field}`) === plugin.name));
  const target: DatabaseTarget =
    database ?? (config.databaseUrl ? { driver: 'postgresql', url: config.databaseUrl } : { driver: 'pglite', dataDir: config.dataDir });

  let fastify: FastifyInstance | undefined;
  let orm: MikroORM | undefined;
  let kernel: Kernel | undefined;
  let url = '';
  let closing = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;
  let stopping: Promise<void> | undefined;

  const publish: Publish = <Payload>(topic: Topic<Payload>, payload: Payload) =>
    new Promise<void>((resolve) => {
      if (!fastify) throw new Error('The app is not started');
      fastify.graphql.pubsub.publish({ topic, payload }, () => resolve());
    });

  const lifecycle = new EventEmitter();
  /** This instance's live sockets' access, by the authorization they presented. */
  const liveAccess = new Map<string, LiveAccess>();
  const eventRegistry = new EventRegistry(modules);
  let dispatcher: EventDispatcher | undefined;
  let subscriptionHub: SubscriptionHub | undefined;
  let jobRunner: JobRunner | undefined;

  /** A request's context: its caller (or why its credentials were refused) and an EntityManager scoped to the caller's company. */
  async function requestContext(
    authorization: string | undefined,
    platformKey: string | undefined,
    ip: string,
    socket?: SocketLike,
  ): Promise<AtriumRequestContext> {
    let viewer: Viewer | null = null;
    let authError: AtriumError | undefined;
    try {
      viewer = await authenticate(kernel!, authorization);
    } catch (error) {
      if (!(error instanceof AtriumError)) throw error;
      authError = error;
    }
    // Forked on first use: many operations (a cached viewer's query of in-memory data, a refused
    // one) never touch the database.
    let em: EntityManager | undefined;
    const scope = viewer?.companyId;
    const context: Omit<AtriumRequestContext, 'em'> = {
      config,
      publish,
      kernel: kernel!,
      viewer,
      authError,
      platform: isPlatformKey(kernel!, platformKey),
      ip,
      emit: eventRegistry.emit,
      subscriptionStarted: () => lifecycle.emit('subscription'),
      // A socket's context gets its shared LiveAccess' refresh (onConnect); a request has nothing to re-read.
      refreshViewer: () => context.viewer,
      keepingUp(queued: number) {
        if (!socket || queued < config.subscriptionMaxQueuedEvents) return true;
        socket.close(1013, 'Too slow: the client does not keep up with its subscriptions');
        return false;
      },
    };
    return withEmOnFirstUse(context, () => {
      if (!em) {
        em = orm!.em.fork({ disableContextResolution: true }) as EntityManager;
        if (scope) scopeToCompany(em, kernel!, scope);
      }
      return em;
    });
  }
  const header = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);
  // One listener for every response ('close' comes once per response): no closure per request.
  const requestClosed = () => {
    inFlight -= 1;
    if (inFlight === 0) drained?.();
  };

  async function start(): Promise<void> {
    if (fastify) throw new Error('The app is already started');
    orm = await openOrm({
      target,
      entities: [...kernelEntities, OutboxEvent, Notification, Webhook, Job, ...modules.flatMap(({ plugin }) => plugin.entities ?? [])],
      // LOG_LEVEL=trace also prints every SQL statement.
      debug: config.logLevel === 'trace',
    });
    const app = Fastify({
      logger: config.logLevel === 'silent' ? false : { level: config.logLevel },
      bodyLimit: config.bodyLimit,
      return503OnClosing: true,
      forceCloseConnections: 'idle',
    });
    fastify = app;
    orm.em.getEventManager().registerSubscriber(afterCommitSubscriber((error) => app.log.error({ err: error }, 'a step after a commit failed')));
    try {
      if (config.migrate) {
        await runMigrations(orm, [{ name: CORE_MODULE, migrations: new URL('../../migrations/', import.meta.url) }, ...modules.map((m) => m.plugin)], {
          info: (message) => app.log.info(message),
        });
      }
      // Hooks on every request take fastify's callback form: an async hook costs a promise and its ticks per request.
      app.addHook('onRequest', (request, reply, done) => {
        if (closing && request.url !== '/health/live') {
          reply.code(503).header('connection', 'close').send({ error: 'Service Unavailable', message: 'The server is shutting down' });
          return;
        }
        inFlight += 1;
        reply.raw.on('close', requestClosed);
        // mercurius' CSRF check also runs on the WebSocket upgrade (a plain GET) and refuses it. CSRF
        // does not apply there: sockets authenticate with the connection_init token, never cookies.
        if (request.headers.upgrade?.toLowerCase() === 'websocket') request.headers['mercurius-require-preflight'] = 'websocket';
        done();
      });
      if (config.httpRateLimit > 0) {
        await app.register(fastifyRateLimit, {
          max: config.httpRateLimit,
          timeWindow: 60_000,
          ...(infrastructure.redis ? { redis: infrastructure.redis, nameSpace: `${infrastructure.prefix ?? 'atrium:'}http-rl:` } : {}),
          // Redis down: serve rather than fail every request (login attempts keep their own limiter).
          skipOnError: true,
          // A refused GraphQL request still answers in the GraphQL error model, with status 429.
          errorResponseBuilder: (_request, context) =>
            Object.assign(new AtriumError('RATE_LIMITED', 'Too many requests; slow down', { retryAfterSeconds: Math.ceil(context.ttl / 1000) }), {
              statusCode: 429,
            }),
        });
      }
      app.get('/health/live', { config: { rateLimit: false } }, async () => ({ status: 'ok' }));
      app.get('/health/ready', { config: { rateLimit: false } }, async (_request, reply) => {
        try {
          await ping(orm!);
          return { status: 'ok' };
        } catch {
          return reply.code(503).send({ status: 'unavailable' });
        }
      });

      await app.register(fastifyJwt, {
        secret: await resolveJwtSecret(config),
        sign: { algorithm: 'HS256' },
        // Verified tokens are cached by kernel.tokens.verify (up to their expiry), not by fast-jwt: see
        // cachingVerifier. Revocation does not rely on it (the access stamp does).
        verify: { algorithms: ['HS256'] },
      });
      kernel = {
        config,
        orm,
        modules,
        permissions,
        limiter: infrastructure.rateLimiter ?? new MemoryRateLimiter(),
        presence: infrastructure.presence ?? new MemoryPresenceStore(),
        queues: infrastructure.queues ?? new MemorySharedQueues(),
        tokens: {
          sign: (claims, expiresInSeconds) => app.jwt.sign(claims, { expiresIn: expiresInSeconds }),
          verify: cachingVerifier((token) => app.jwt.verify<AccessClaims & { exp: number }>(token)),
        },
        events: eventRegistry,
        decoyPasswordHash: hashPassword(randomPassword(), config.auth.passwordCost),
        viewerCache: new Map(),
        viewerEpoch: 0,
      };

      await app.register(fastifyWebsocket, {
        options: { maxPayload: 1024 * 1024 },
        // Close sockets with 1001 "going away" so that clients know to reconnect elsewhere.
        preClose(done) {
          for (const client of this.websocketServer.clients) client.close(1001, 'Server shutting down');
          done();
        },
      });
      // One emitter for mercurius and the kernel's direct delivery, which listens once per topic.
      const emitter = (infrastructure.emitter ?? mqemitter()) as Emitter;
      const hub = new SubscriptionHub(emitter, (error) => app.log.error({ err: error }, 'subscription delivery failed'));
      subscriptionHub = hub;
      const validationRules = [costLimitRule(config.graphql), ...(config.introspection ? [] : [NoSchemaIntrospectionCustomRule])];
      await app.register(mercurius, {
        schema: schema.schema,
        path: '/graphql',
        jit: 1,
        graphiql: config.graphiql,
        queryDepth: config.graphql.maxDepth,
        allowBatchedQueries: false,
        csrfPrevention: true,
        validationRules,
        context: (request) => requestContext(request.headers.authorization, header(request.headers['x-atrium-platform-key']), request.ip),
        errorFormatter: (execution, context) => formatErrors(execution, context, config, app),
        subscription: {
          emitter,
          // The socket authenticates once, with the connection_init payload's authorization. A
          // refusal closes it with graphql-ws' close codes (mercurius' own `connection_error` message
          // is not part of the protocol): 4401 without credentials (unless public subscriptions are
          // served) or with an expired token, 4403 with credentials that are refused. The socket
          // closes with 4401 when its token expires.
          // (mercurius calls onConnect as a method of the connection, which holds the socket.)
          onConnect: async function (this: SubscriptionConnection & { socket: SocketLike }, { payload }) {
            const socket = this.socket;
            const authorization = typeof payload?.authorization === 'string' ? payload.authorization : undefined;
            const refuse = (code: number, reason: string) => {
              socket.close(code, reason);
              return false;
            };
            // mercurius answers a subscription that could not start (variables that do not fit their
            // types, say) with the error as it is: answer it in the kernel's error model instead.
            const sendError = this.sendError.bind(this);
            this.sendError = (error, id) => {
              const graphqlError = error instanceof GraphQLError ? error : new GraphQLError(String((error as Error)?.message ?? error), { originalError: error as Error });
              sendError(toPublicError(graphqlError, { suggestions: config.env === 'development', log: app.log }), id);
            };
            const accept = (context: Awaited<ReturnType<typeof requestContext>>) => {
              keepAlive(socket, config.subscriptionKeepAliveMs);
              return Object.assign(context, socketSender(this, hub, context.keepingUp));
            };
            if (!authorization) {
              if (!publicSubscriptions) return refuse(4401, 'Unauthorized: send authorization in connection_init');
              return accept(await requestContext(undefined, undefined, '', socket));
            }
            const context = await requestContext(authorization, undefined, '', socket);
            if (!context.viewer) {
              const { expired } = bearerExpiry(kernel!, authorization);
              return refuse(expired ? 4401 : 4403, expired ? 'Access token expired' : 'Forbidden');
            }
            const { expiresAt } = bearerExpiry(kernel!, authorization);
            if (expiresAt !== undefined) {
              const timer = setTimeout(() => socket.close(4401, 'Access token expired'), Math.max(0, expiresAt - Date.now()));
              timer.unref();
              socket.once('close', () => clearTimeout(timer));
            }
            // Sockets of the same authorization share their access re-reads (and so their deliveries' decisions).
            const live = entryOf(liveAccess, authorization, () => new LiveAccess(() => authenticate(kernel!, authorization), context.viewer!, config.auth.subscriptionRecheckMs, () => kernel!.viewerEpoch));
            const member = { context, close: (code: number, reason: string) => socket.close(code, reason) };
            live.join(member);
            context.refreshViewer = live.refresh;
            socket.once('close', () => {
              if (live.leave(member) && liveAccess.get(authorization) === live) liveAccess.delete(authorization);
            });
            return accept(context);
          },
          // Pinged by keepAlive below, with WebSocket ping frames rather than mercurius' graphql-ws messages.
          keepAlive: 0,
          fullWsTransport: false,
        },
      });
      // mercurius checks only the depth of a subscription sent over WebSocket: validate it as HTTP does.
      app.graphql.addHook('preSubscriptionExecution', async (schema, document) => {
        const errors = validate(schema, document, [...specifiedRules, ...validationRules]);
        if (errors.length) throw new GraphQLError(errors.map((error) => error.message).join(' '), { extensions: { code: 'BAD_USER_INPUT' } });
      });
      for (const resolvers of resolverSets) app.graphql.defineResolvers(resolvers);
      // Answer in the media type the client prefers (GraphQL over HTTP).
      app.addHook('onSend', (request, reply, payload, done) => {
        if (request.url.startsWith('/graphql') && prefersGraphQLResponse(request.headers.accept) && String(reply.getHeader('content-type') ?? '').startsWith('application/json')) {
          reply.header('content-type', `${GRAPHQL_RESPONSE_TYPE}; charset=utf-8`);
        }
        done(null, payload);
      });

      const moduleContexts = new Map<string, ModuleContext>([['core', { fastify: app, orm, kernel: kernel!, config: undefined, publish }]]);
      const channels = new Map((notificationChannels ?? [loggingChannel('email', app.log), loggingChannel('sms', app.log)]).map((c) => [c.name, c]));
      for (const { plugin, config: moduleConfig } of modules) {
        moduleContexts.set(plugin.name, { fastify: app, orm, kernel: kernel!, config: moduleConfig, publish });
        if (!plugin.setup) continue;
        await app.register(
          fastifyPlugin(
            async (instance: FastifyInstance) => {
              const context: ModuleContext = { fastify: instance, orm: orm!, kernel: kernel!, config: moduleConfig, publish };
              moduleContexts.set(plugin.name, context);
              await plugin.setup!(context);
            },
            { name: `atrium:${plugin.name}`, encapsulate: true },
          ),
        );
      }

      const { events: eventOptions } = config;
      const outbox = new EventDispatcher(
        orm,
        modules,
        moduleContexts,
        publish,
        {
          ...eventOptions,
          retentionMs: eventOptions.retentionDays * 86_400_000,
          webhooks: { timeoutMs: eventOptions.webhookTimeoutMs, disableAfter: eventOptions.webhookDisableAfter },
        },
        app.log,
        { [NOTIFICATION_CREATED]: (event, context) => sendToChannels(event, context.em, channels) },
      );
      dispatcher = outbox;
      const jobs = new Map<string, { module: string; definition: JobDefinition }>([
        ['core.pruneEvents', { module: 'core', definition: { every: 3_600_000, run: (_job, { em }) => outbox.prune(em) } }],
      ]);
      for (const { plugin } of modules) for (const [name, definition] of Object.entries(plugin.jobs ?? {})) jobs.set(name, { module: plugin.name, definition });
      const runner = new JobRunner(orm, jobs, moduleContexts, eventOptions, app.log);
      jobRunner = runner;
      // Committed events and jobs are taken up at once; the polls catch the rest (other instances,
      // restarts). A commit wakes the worker of what it wrote — the dispatcher for events, the runner
      // for jobs — and nothing else (the dispatcher's own commits write neither); work written inside
      // a transaction is visible only once the outermost one commits (afterCommit).
      // Bound to the start-up async context: woken from inside a request's transaction, the workers
      // must not inherit that transaction (MikroORM finds transactions through AsyncLocalStorage).
      const wake = AsyncResource.bind((events: boolean, jobs: boolean) => {
        if (events) outbox.wake({ eventsOnly: true });
        if (jobs) void runner.tick();
      });
      wakeAfterInsertedEvents(orm.em as EntityManager, () => setImmediate(wake, true, false));
      orm.em.getEventManager().registerSubscriber({
        afterFlush: ({ em, uow }) => {
          const changes = uow.getChangeSets();
          const events = changes.some((change) => change.meta.className === 'OutboxEvent');
          const jobs = changes.some((change) => change.meta.className === 'Job');
          if (events || jobs) void afterCommit(em as EntityManager, () => setImmediate(wake, events, jobs));
        },
      });

      url = await app.listen({ port: config.port, host: config.host });
      outbox.start();
      await runner.start();
      lifecycle.emit('started');
    } catch (error) {
      await dispatcher?.stop().catch(() => {});
      await jobRunner?.stop().catch(() => {});
      await app.close().catch(() => {});
      await orm.close().catch(() => {});
      await infrastructure.close?.().catch(() => {});
      fastify = undefined;
      orm = undefined;
      kernel = undefined;
      dispatcher = undefined;
      jobRunner = undefined;
      subscriptionHub = undefined;
      throw error;
    }
  }

  function stop(): Promise<void> {
    stopping ??= (async () => {
      const app = fastify;
      if (!app) return;
      closing = true;
      lifecycle.emit('stopping');
      for (const client of app.websocketServer?.clients ?? []) client.close(1001, 'Server shutting down');
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          drained = resolve;
          setTimeout(resolve, config.shutdownTimeoutMs).unref();
        });
      }
      await app.close();
      await dispatcher?.stop();
      await jobRunner?.stop();
      await orm?.close();
      await infrastructure.close?.();
    })();
    return stopping;
  }

  return {
    config,
    modules,
    schema,
    get fastify() {
      return started(fastify);
    },
    get orm() {
      return started(orm);
    },
    get kernel() {
      return started(kernel);
    },
    get url() {
      return url;
    },
    publish,
    lifecycle,
    get dispatcher() {
      return started(dispatcher);
    },
    get jobs() {
      return started(jobRunner);
    },
    liveIdle: () => started(subscriptionHub).idle(),
    start,
    stop,
  };
}

/** A part of the app that exists once it has started. */
function started<T>(part: T | undefined): T {
  if (part === undefined) throw new Error('The app is not started');
  return part;
}

const randomPassword = (): string => Math.random().toString(36).repeat(3);

const FORK_EM = Symbol('atrium.forkEm');
/** The `em` of every request context, one getter for all: see {@link withEmOnFirstUse}. */
const emOnFirstUse: PropertyDescriptor = {
  enumerable: true,
  configurable: true,
  get(this: { [FORK_EM]: () => EntityManager }) {
    return this[FORK_EM]();
  },
};

/**
 * Gives a request context its `em` (an own, enumerable getter: spreading a context copies it). The
 * getter is shared: an object literal's `get em()` is a new function per context, which gives every
 * context a hidden class of its own, i.e. a slow dictionary object (some µs per request to build,
 * and every property read by every resolver slower).
 */
function withEmOnFirstUse<T extends object>(context: T, fork: () => EntityManager): T & { em: EntityManager } {
  (context as { [FORK_EM]?: () => EntityManager })[FORK_EM] = fork;
  return Object.defineProperty(context, 'em', emOnFirstUse) as T & { em: EntityManager };
}

/** The part of a WebSocket the subscription gate uses. */
interface SocketLike {
  close(code: number, reason: string): void;
  terminate(): void;
  ping(): void;
  on(event: 'pong', listener: () => void): void;
  once(event: 'close', listener: () => void): void;
}

/**
 * Pings an accepted socket every `intervalMs` with a WebSocket ping frame — proxies see traffic, and
 * clients (browsers included) answer with a pong frame by themselves — and drops it when the last
 * ping went unanswered, as graphql-ws' own server does. (A graphql-ws `ping` message, mercurius'
 * keep-alive, is answered by a `pong` message that mercurius reads like any other: at thousands of
 * sockets, most of what a young-generation GC had to keep.)
 */
function keepAlive(socket: SocketLike, intervalMs: number): void {
  let answered = true;
  socket.on('pong', () => {
    answered = true;
  });
  const timer = setInterval(() => {
    if (!answered) return socket.terminate();
    answered = false;
    socket.ping();
  }, intervalMs);
  timer.unref();
  socket.once('close', () => clearInterval(timer));
}

/** A bearer token's expiry (ms since the epoch) if its signature holds, and whether it has passed. */
function bearerExpiry(kernel: Kernel, authorization: string): { expiresAt?: number; expired: boolean } {
  const [scheme, token] = authorization.trim().split(/\s+/, 2);
  if (!/^bearer$/i.test(scheme ?? '') || !token) return { expired: false };
  try {
    return { expiresAt: kernel.tokens.verify(token).exp * 1000, expired: false };
  } catch (error) {
    return { expired: (error as { code?: string }).code === 'FAST_JWT_EXPIRED' };
  }
}

/** A module may only resolve fields it owns (its types, and the fields it adds to other types). */
function assertOwnsResolvers(module: string, resolvers: IResolvers, schema: ComposedSchema): void {
  for (const [typeName, fields] of Object.entries(resolvers)) {
    const typeOwner = schema.typeOwners.get(typeName);
    if (typeOwner === undefined) throw new PluginError(`Module "${module}" has resolvers for ${typeName}, which is not in the schema`, [module]);
    if (typeof fields !== 'object' || fields === null || !['Query', 'Mutation', 'Subscription'].includes(typeName)) {
      if (typeOwner === module) continue;
    }
    for (const field of Object.keys(fields as object)) {
      const owner = schema.fieldOwners.get(`${typeName}.${field}`);
      if (owner !== module && !(owner === undefined && typeOwner === module)) {
        throw new PluginError(`Module "${module}" resolves ${typeName}.${field}, which ${owner ? `module "${owner}" owns` : 'is not in the schema'}`, [module, ...(owner ? [owner] : [])]);
      }
    }
  }
}

interface FormattableExecution {
  data?: unknown;
  errors: readonly GraphQLError[];
  statusCode?: number;
}

function formatErrors(execution: FormattableExecution, context: MercuriusContext, config: AtriumConfig, app: FastifyInstance) {
  const flattened = execution.errors.flatMap((error) => {
    // mercurius wraps validation errors into one error carrying the GraphQLErrors.
    const nested = (error.originalError as { errors?: unknown[] } | undefined)?.errors;
    return Array.isArray(nested) && nested.every((e) => e instanceof GraphQLError) ? (nested as GraphQLError[]) : [error];
  });
  const log = context?.reply?.log ?? app.log;
  const errors = flattened.map((error) => toPublicError(error, { suggestions: config.env === 'development', log }).toJSON());
  // GraphQL over HTTP: a request refused before execution (unparsable, invalid) has no `data`; with
  // the application/graphql-response+json media type it is also answered 4xx (application/json: 200).
  const executed = execution.data !== undefined;
  const graphqlResponse = prefersGraphQLResponse(context?.reply?.request?.headers.accept);
  const statusCode = execution.data ? 200 : (statusOf(flattened) ?? (!executed && graphqlResponse ? 400 : (execution.statusCode ?? 200)));
  const response: FormattedExecutionResult = executed ? { data: (execution.data ?? null) as FormattedExecutionResult['data'], errors } : { errors };
  return { statusCode, response };
}

export const GRAPHQL_RESPONSE_TYPE = 'application/graphql-response+json';

/** Whether an Accept header prefers application/graphql-response+json over application/json. */
export function prefersGraphQLResponse(accept: string | undefined): boolean {
  if (!accept) return false;
  const quality = (type: string) => {
    for (const range of accept.split(',')) {
      const [media, ...params] = range.trim().split(';');
      if (media?.trim().toLowerCase() !== type) continue;
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return q ? Number(q.slice(2)) : 1;
    }
    return 0;
  };
  const preferred = quality(GRAPHQL_RESPONSE_TYPE);
  return preferred > 0 && preferred >= quality('application/json');
}

/** A module's resolvers with its loaders as batching field resolvers (a field is defined by one or the other). */
function withLoaders(module: string, resolvers: IResolvers, loaders: MercuriusLoaders | undefined): IResolvers {
  if (!loaders) return resolvers;
  const merged: Record<string, unknown> = { ...resolvers };
  for (const [typeName, fields] of Object.entries(loaderResolvers(loaders as never))) {
    const own = (resolvers as Record<string, Record<string, unknown> | undefined>)[typeName] ?? {};
    for (const field of Object.keys(fields)) if (field in own) throw new PluginError(`Module "${module}" defines ${typeName}.${field} both as a resolver and as a loader`, [module]);
    merged[typeName] = { ...own, ...fields };
  }
  return merged as IResolvers;
}

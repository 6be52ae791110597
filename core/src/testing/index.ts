/**
 * `@atrium/core/testing` — the test kit for Atrium apps and modules: a real app on a fresh database,
 * GraphQL over HTTP, subscriptions over a real graphql-ws WebSocket.
 * @packageDocumentation
 */
import { once } from 'node:events';
import { createClient, type Client, type ExecutionResult } from 'graphql-ws';
import WebSocket from 'ws';
import { createApp, type AtriumApp } from '../app/createApp.ts';
import { ACCESS_STAMP_SQL } from '../access/authenticate.ts';
import { statementOf } from '../db/prepared.ts';
import type { AtriumConfigInput } from '../app/config.ts';
import type { Infrastructure } from '../shared/infrastructure.ts';
import type { NotificationChannel } from '../notifications/notifications.ts';
import type { AtriumPlugin } from '../plugin/manifest.ts';
import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { recordMessages } from './messages.ts';
import { createCompany, createUser, type CreateCompanyOptions, type CreateUserOptions, type TestCompany, type TestUser } from './factories.ts';

export { createTestDatabase, type TestDatabase } from './database.ts';

/**
 * The skip reason of tests that need real PostgreSQL (races, locks: PGlite is one connection), or
 * false when `DATABASE_URL` points at a server: `t.test('races', { skip: postgresOnly }, …)`.
 */
export const postgresOnly: string | false = process.env.DATABASE_URL ? false : 'races and locks need PostgreSQL (set DATABASE_URL)';
export { TEST_PASSWORD, type CreateCompanyOptions, type CreateUserOptions, type TestCompany, type TestUser } from './factories.ts';
export { assertEdgeInputs, type EdgeBase, type EdgeInputSpec } from './edge-inputs.ts';
export { assertTenantIsolation, type Assertions, type IsolationOperation, type IsolationSpec } from './isolation.ts';
export { recordMessages } from './messages.ts';

export interface TestAppOptions {
  modules?: AtriumPlugin<any>[];
  /** Configuration overrides (the environment is not read, except `DATABASE_URL`). */
  config?: AtriumConfigInput;
  /** State shared between instances (e.g. from `@atrium/plugin-redis`). */
  infrastructure?: Infrastructure;
  /**
   * Run on an existing test database — a second instance of the same app, say. The caller drops it;
   * the kit only makes (and drops) the databases it creates.
   */
  database?: TestDatabase;
  /** The platform key (give two instances the same one). */
  platformKey?: string;
  /** Outside channels for notifications. */
  notificationChannels?: NotificationChannel[];
}

export interface RequestOptions {
  /** An access token, sent as `authorization: Bearer <token>`. */
  token?: string;
  headers?: Record<string, string>;
}

/** A GraphQL answer with its HTTP status. */
export interface GqlResponse<Data = any> {
  statusCode: number;
  data?: Data | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string; fields?: Record<string, string>; [key: string]: unknown } }[];
}

export interface SubscribeOptions {
  token?: string;
  /** Sent as the graphql-ws `connection_init` payload (overrides the one built from `token`). */
  connectionParams?: Record<string, unknown>;
}

/** A live subscription over its own graphql-ws connection. */
export interface TestSubscription<Data = any> extends AsyncIterable<ExecutionResult<Data>> {
  /** The next event (or error result) the server sent. */
  next(): Promise<ExecutionResult<Data>>;
  /** Resolves with the WebSocket close event once the connection closes. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Resolves with the errors if the server refuses or ends the subscription with an error. */
  readonly failed: Promise<readonly unknown[]>;
  /** The underlying graphql-ws client. */
  readonly client: Client;
  close(): Promise<void>;
}

export interface TestApp {
  app: AtriumApp;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Sends a GraphQL operation over HTTP (in-process injection through the whole Fastify pipeline). */
  gql<Data = any>(query: string, variables?: Record<string, unknown>, options?: RequestOptions): Promise<GqlResponse<Data>>;
  /**
   * Opens a graphql-ws connection and starts a subscription; resolves once the server listens to
   * the subscription's topic, so that events published afterwards are received.
   */
  subscribe<Data = any>(query: string, variables?: Record<string, unknown>, options?: SubscribeOptions): Promise<TestSubscription<Data>>;
  /**
   * Runs `fn` and returns the SQL statements the app issued meanwhile (the event dispatcher and the
   * job runner are paused, and the kernel's clock-driven re-read of the caller's access stamp is left
   * out, so that only `fn`'s statements count) — for asserting a bounded number of statements
   * whatever the page size.
   */
  statements(fn: () => Promise<unknown>): Promise<string[]>;
  /**
   * Runs `fn` as `statements` does and returns the messages the app sent to PostgreSQL meanwhile,
   * each as it went over the wire (several statements travel in one: a `begin` with the first
   * statement, an event's insert with the next, a `commit` with the last) — for pinning round trips.
   * `fn` is handed the list as it grows.
   */
  messages(fn: (sent: readonly string[]) => Promise<unknown>): Promise<string[]>;
  /**
   * Calls `listener` with every SQL statement the app issues from now on (background work included),
   * until the returned function is called (hand it to `t.teardown`).
   */
  onQuery(listener: (sql: string, params: readonly unknown[]) => void): () => void;
  /** Runs SQL straight against the test database, bypassing the app. */
  sql<Row = Record<string, unknown>>(text: string, params?: unknown[]): Promise<Row[]>;
  /** Signs up a company (its OWNER signed in), optionally on a given plan or a plan made for it. */
  createCompany(options?: CreateCompanyOptions): Promise<TestCompany>;
  /** Adds a signed-in user to a company, with the given permission keys (through a role) and branches. */
  createUser(options: CreateUserOptions): Promise<TestUser>;
  /** The platform operator's key of this app (header x-atrium-platform-key). */
  platformKey: string;
  /** Stops the app, closes open subscriptions and drops the database. */
  close(): Promise<void>;
}

/**
 * Starts an app on a fresh database: a schema of its own on PostgreSQL when `DATABASE_URL` is
 * set, otherwise an in-memory PGlite loaded from a migrated template.
 */
export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const modules = options.modules ?? [];
  const ownsDatabase = !options.database;
  const database = options.database ?? (await createTestDatabase(modules));
  const platformKey = options.platformKey ?? randomBytes(24).toString('base64url');
  let app: AtriumApp | undefined;
  try {
    app = createApp({
      env: 'test',
      port: 0,
      host: '127.0.0.1',
      logLevel: 'silent',
      platformKey,
      ...options.config,
      // Cheap password hashing and generous sign-in limits keep tests fast; tests of them set their own.
      auth: {
        passwordCost: 10,
        loginAttemptsPerIp: 100_000,
        loginAttemptsPerEmail: 1000,
        signUpsPerHourPerIp: 100_000,
        subscriptionRecheckMs: 0,
        ...options.config?.auth,
      },
      events: { pollMs: 100, retryBaseMs: 20, ...options.config?.events },
      modules,
      database: database.target,
      environment: {},
      infrastructure: options.infrastructure,
      notificationChannels: options.notificationChannels,
    });
    await app.start();
    if (ownsDatabase) {
      // PGlite dumps its data directory only while no query is in flight: pause the workers meanwhile.
      await app.dispatcher.stop();
      await app.jobs.stop();
      await database.afterStart();
      app.dispatcher.start();
      await app.jobs.start();
    }
  } catch (error) {
    await app?.stop().catch(() => {});
    if (ownsDatabase) await database.drop().catch(() => {});
    throw error;
  }
  const subscriptions = new Set<TestSubscription>();
  let expectedSubscriptions = 0;
  let startedSubscriptions = 0;
  app.lifecycle.on('subscription', () => (startedSubscriptions += 1));

  const queryListeners = new Set<(sql: string, params: readonly unknown[]) => void>();
  const formatQuery = app.orm.config.get('onQuery');
  app.orm.config.set('onQuery', (sql, params) => {
    // A prepared statement's run is shown as the statement it runs.
    const statement = statementOf(sql);
    for (const listener of queryListeners) listener(statement, params);
    return formatQuery(sql, params);
  });
  const test: TestApp = {
    app,
    url: app.url,
    platformKey,
    createCompany: (companyOptions) => createCompany(test.gql, platformKey, companyOptions),
    createUser: (userOptions) => createUser(test.gql, userOptions),
    async gql(query, variables, requestOptions = {}) {
      const response = await app.fastify.inject({
        method: 'POST',
        url: '/graphql',
        headers: {
          'content-type': 'application/json',
          ...(requestOptions.token ? { authorization: `Bearer ${requestOptions.token}` } : {}),
          ...requestOptions.headers,
        },
        payload: JSON.stringify({ query, variables }),
      });
      return { statusCode: response.statusCode, ...JSON.parse(response.body) };
    },
    async subscribe<Data>(query: string, variables?: Record<string, unknown>, subscribeOptions: SubscribeOptions = {}) {
      const expected = ++expectedSubscriptions;
      const subscription = openSubscription<Data>(`${app.url.replace(/^http/, 'ws')}/graphql`, query, variables, subscribeOptions);
      subscriptions.add(subscription as TestSubscription);
      void subscription.closed.then(() => subscriptions.delete(subscription as TestSubscription));
      // Wait until the server listens — or refuses: then `next()` reports why.
      while (startedSubscriptions < expected) {
        const refused = await Promise.race([
          once(app.lifecycle, 'subscription').then(() => false),
          subscription.closed.then(() => true),
          subscription.failed.then(() => true),
        ]);
        if (refused) {
          expectedSubscriptions -= 1;
          break;
        }
      }
      return subscription;
    },
    async statements(fn) {
      await app.dispatcher.stop();
      await app.jobs.stop();
      const issued: string[] = [];
      const stop = test.onQuery((sql) => {
        // The kernel's re-read of a caller's access stamp depends on the clock (at most once per
        // `auth.accessRecheckMs`), not on what `fn` asks for.
        if (sql !== ACCESS_STAMP_SQL) issued.push(sql);
      });
      try {
        await fn();
      } finally {
        stop();
        app.dispatcher.start();
        await app.jobs.start();
      }
      return issued;
    },
    async messages(fn) {
      let sent: string[] = [];
      // Recorded inside: the workers' stop and restart send messages of their own.
      await test.statements(async () => {
        const recording = recordMessages();
        sent = recording.sent;
        try {
          await fn(sent);
        } finally {
          recording.stop();
        }
      });
      return sent;
    },
    onQuery(listener) {
      queryListeners.add(listener);
      return () => {
        queryListeners.delete(listener);
      };
    },
    sql: database.sql,
    async close() {
      await Promise.all([...subscriptions].map((s) => s.close()));
      await app.stop();
      if (ownsDatabase) await database.drop();
    },
  };
  return test;
}

function openSubscription<Data>(url: string, query: string, variables: Record<string, unknown> | undefined, options: SubscribeOptions): TestSubscription<Data> {
  let resolveClosed!: (event: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => (resolveClosed = resolve));
  const results: ExecutionResult<Data>[] = [];
  const waiting: ((result: ExecutionResult<Data>) => void)[] = [];
  let failure: ExecutionResult<Data> | undefined;
  let resolveFailed!: (errors: readonly unknown[]) => void;
  const failed = new Promise<readonly unknown[]>((resolve) => (resolveFailed = resolve));

  const deliver = (result: ExecutionResult<Data>) => {
    const waiter = waiting.shift();
    if (waiter) waiter(result);
    else results.push(result);
  };
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    lazy: false,
    // Failures reach the test through `closed` and `next()`; the default would print them.
    onNonLazyError: () => {},
    retryAttempts: 0,
    connectionParams: options.connectionParams ?? (options.token ? { authorization: `Bearer ${options.token}` } : {}),
    on: {
      closed: (event) => {
        const { code, reason } = event as { code: number; reason: string };
        failure = { errors: [{ message: `connection closed (${code}${reason ? `: ${reason}` : ''})` }] as never };
        for (const waiter of waiting.splice(0)) waiter(failure);
        resolveClosed({ code, reason: String(reason ?? '') });
      },
    },
  });
  client.subscribe<Data>(
    { query, variables },
    {
      next: deliver,
      error: (error) => {
        const errors = Array.isArray(error) ? error : [{ message: String((error as Error)?.message ?? error) }];
        resolveFailed(errors);
        deliver({ errors: errors as never });
      },
      complete: () => {},
    },
  );
  const next = (): Promise<ExecutionResult<Data>> => {
    const result = results.shift();
    if (result) return Promise.resolve(result);
    if (failure) return Promise.resolve(failure);
    return new Promise((resolve) => waiting.push(resolve));
  };
  return {
    next,
    closed,
    failed,
    client,
    async close() {
      await client.dispose();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) yield await next();
    },
  };
}

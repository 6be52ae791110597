import { createApp } from '@atrium/core';
import crm from '@atrium/crm';
import messenger from '@atrium/messenger';
import { redisInfrastructure } from '@atrium/plugin-redis';
import { serveAtrium } from './serve-atrium.ts';
import { serveStats } from './stats.ts';

/**
 * Scenario 3's Atrium: the kernel with the CRM and messenger modules on PostgreSQL (`DATABASE_URL`,
 * migrated at start). With `BENCH_REDIS_PREFIX` set it is one of several instances sharing Redis
 * (`REDIS_URL`, default the local one) through @atrium/plugin-redis. Counts the subscriptions that
 * listen to their topic and the open WebSockets, for the runner.
 */
const prefix = process.env.BENCH_REDIS_PREFIX;
const app = createApp({
  modules: [crm, messenger],
  env: 'production',
  // Passwords are hashed only while the runner seeds and signs in its agents, once: their tokens
  // serve every server process of the run (same secret), so they must outlive it.
  auth: { jwtSecret: 'bench-secret-bench-secret-bench-secret-0123', passwordCost: 10, accessTokenTtlSeconds: 4 * 3600 },
  logLevel: 'silent',
  // The WebSocket upgrades are HTTP requests from a handful of addresses: no per-address limit.
  httpRateLimit: 0,
  host: '127.0.0.1',
  port: 0,
  infrastructure: prefix ? redisInfrastructure({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix }) : undefined,
});
let subscriptions = 0;
app.lifecycle.on('subscription', () => {
  subscriptions += 1;
});
await app.start();
serveStats(() => ({ sockets: app.fastify.websocketServer.clients.size, subscriptions }));
serveAtrium(app);

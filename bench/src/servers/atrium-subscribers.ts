import { createApp } from '@atrium/core';
import { serveAtrium } from './serve-atrium.ts';
import { serveStats } from './stats.ts';

/**
 * Scenario 6's Atrium: the kernel alone (no modules), on PostgreSQL when DATABASE_URL is set, else on
 * the embedded database in ATRIUM_DATA_DIR. Counts the subscriptions that started listening to their
 * topic (the kernel's `subscription` lifecycle notice) and the open WebSockets, for the runner.
 */
const app = createApp({
  modules: [],
  env: 'production',
  auth: { jwtSecret: 'bench-secret-bench-secret-bench-secret-0123' },
  logLevel: 'silent',
  // The WebSocket upgrades are HTTP requests from a handful of addresses: no per-address limit.
  httpRateLimit: 0,
  host: '127.0.0.1',
  port: 0,
});
let subscriptions = 0;
app.lifecycle.on('subscription', () => {
  subscriptions += 1;
});
await app.start();
serveStats(() => ({ sockets: app.fastify.websocketServer.clients.size, subscriptions }));
// Stops cleanly: the embedded database is reopened by the next round.
serveAtrium(app);

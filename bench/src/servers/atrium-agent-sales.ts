import { createApp } from '@atrium/core';
import agentSales from '@atrium/agent-sales';
import crm from '@atrium/crm';
import { serveAtrium } from './serve-atrium.ts';

/**
 * Scenario 4's Atrium: the kernel with the CRM and agent sales modules on PostgreSQL (`DATABASE_URL`,
 * migrated at start), row-level security on (the default). The runner seeds users and products over
 * GraphQL, layers and carts with SQL, and checks carts out over GraphQL (`checkoutAgentCart`). The
 * SQL statements of single checkouts are counted by the `pg` hook of sql-count.ts.
 */
const app = createApp({
  modules: [crm, agentSales],
  env: 'production',
  // Passwords are hashed only while the runner seeds users; tokens outlive the longest run.
  auth: { jwtSecret: process.env.BENCH_JWT_SECRET!, passwordCost: 10, accessTokenTtlSeconds: 3 * 3600 },
  logLevel: 'silent',
  httpRateLimit: 0,
  host: '127.0.0.1',
  port: 0,
});
await app.start();
serveAtrium(app, { sqlCounts: true });

import { createApp } from '@atrium/core';
import agentSales from '@atrium/agent-sales';
import crm from '@atrium/crm';
import { announce } from './announce.ts';
import { serveSqlCounts } from './sql-count.ts';

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
serveSqlCounts({
  // The event dispatcher and the job runner poll the database on their own: not the checkout's statements.
  pause: async () => {
    await app.dispatcher.stop();
    await app.jobs.stop();
  },
  resume: async () => {
    app.dispatcher.start();
    await app.jobs.start();
  },
});
// A clean exit (SIGTERM from the runner) also writes the CPU profile when started with --cpu-prof.
process.once('SIGTERM', () => {
  void app.stop().finally(() => process.exit(0));
});
announce(Number(new URL(app.url).port));

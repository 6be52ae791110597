import { createApp } from '@atrium/core';
import crm from '@atrium/crm';
import { JWT_SECRET } from '../nested-data.ts';
import { serveAtrium } from './serve-atrium.ts';

/**
 * Scenario 2's Atrium: the kernel with the CRM module on PostgreSQL (`DATABASE_URL`, migrated at
 * start), row-level security on (the default). The runner seeds it over GraphQL and lists contacts
 * as a MEMBER.
 */
const app = createApp({
  modules: [crm],
  env: 'production',
  // Passwords are hashed only while the runner seeds users; the measured query never hashes one.
  auth: { jwtSecret: JWT_SECRET, passwordCost: 10 },
  logLevel: 'silent',
  httpRateLimit: 0,
  host: '127.0.0.1',
  port: 0,
});
await app.start();
serveAtrium(app, { sqlCounts: true });

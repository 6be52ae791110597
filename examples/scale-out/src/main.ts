import { createApp, runApp } from '@atrium/core';
import { redisInfrastructure } from '@atrium/plugin-redis';
import guestbook from '@atrium/example-custom-module';

// One instance of an app meant to run several times behind a load balancer. What the instances share
// must live outside them: the data in PostgreSQL, subscriptions / rate limits / presence in Redis,
// and the key that signs access tokens (a token from one instance is checked by another).
const missing = ['DATABASE_URL', 'REDIS_URL', 'JWT_SECRET'].filter((name) => !process.env[name]);
if (missing.length > 0) {
  console.error(`Set ${missing.join(', ')}: every instance must share the same PostgreSQL, Redis and JWT secret (see README.md)`);
  process.exit(1);
}

const infrastructure = redisInfrastructure({ prefix: process.env.ATRIUM_REDIS_PREFIX });
// Other configuration comes from the environment as usual: PORT, HOST, LOG_LEVEL, NODE_ENV, …
const app = await runApp(() => createApp({ modules: [guestbook], infrastructure }));
// A failed start leaves the Redis connections open, and they would keep the process alive.
if (!app) await infrastructure.close();

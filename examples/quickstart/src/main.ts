import { createApp, runApp } from '@atrium/core';
import { modules } from './modules.ts';

// Configuration comes from the environment: PORT, HOST, DATABASE_URL (none: embedded PGlite under
// ATRIUM_DATA_DIR, default .atrium/), LOG_LEVEL, NODE_ENV, …
await runApp(() => createApp({ modules }));

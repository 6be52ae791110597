import type { AtriumApp } from '@atrium/core';
import { announce } from './announce.ts';
import { serveGcTime } from './gc-time.ts';
import { serveSqlCounts } from './sql-count.ts';

/**
 * Hands a started Atrium server to its runner: stops cleanly on SIGTERM (which also writes the CPU
 * profile when started with --cpu-prof), answers requests for its garbage collection time,
 * optionally SQL counting requests, and announces the port.
 */
export function serveAtrium(app: AtriumApp, options: { sqlCounts?: boolean } = {}): void {
  if (options.sqlCounts) {
    serveSqlCounts({
      // The event dispatcher and the job runner poll the database on their own: not the request's statements.
      pause: async () => {
        await app.dispatcher.stop();
        await app.jobs.stop();
      },
      resume: async () => {
        app.dispatcher.start();
        await app.jobs.start();
      },
    });
  }
  serveGcTime();
  process.once('SIGTERM', () => {
    void app.stop().finally(() => process.exit(0));
  });
  announce(Number(new URL(app.url).port));
}

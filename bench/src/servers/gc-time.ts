import { PerformanceObserver } from 'node:perf_hooks';

/** The runner asks a server for its garbage collection so far (over IPC). */
export interface GcTimeRequest {
  type: 'gc';
}

export interface GcTimeMessage {
  type: 'gc';
  /** Time the server's main thread spent in garbage collection since it started, ms. */
  pauseMs: number;
  /** Collections since it started, young and old generation. */
  collections: number;
}

/** Adds up the server's garbage collections (perf_hooks' `gc` entries) and answers the runner's requests for the totals. */
export function serveGcTime(): void {
  const total = { pauseMs: 0, collections: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      total.pauseMs += entry.duration;
      total.collections += 1;
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('message', (message: GcTimeRequest) => {
    if (message?.type === 'gc') process.send?.({ type: 'gc', ...total } satisfies GcTimeMessage);
  });
}

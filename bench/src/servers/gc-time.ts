import { PerformanceObserver } from 'node:perf_hooks';

/** The runner asks a server for its garbage collection so far (over IPC). */
export interface GcTimeRequest {
  type: 'gc';
}

export interface GcTimeMessage {
  type: 'gc';
  /** Time the server's main thread spent in garbage collection since it started, ms. */
  pauseMs: number;
}

/** Adds up the server's garbage collections (perf_hooks' `gc` entries) and answers the runner's requests for the totals. */
export function serveGcTime(): void {
  let pauseMs = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) pauseMs += entry.duration;
  }).observe({ entryTypes: ['gc'] });
  process.on('message', (message: GcTimeRequest) => {
    if (message?.type === 'gc') process.send?.({ type: 'gc', pauseMs } satisfies GcTimeMessage);
  });
}

/** Exponential backoff of the outbox deliveries and the background jobs. */
export interface BackoffOptions {
  /** First retry delay; doubled each attempt. */
  retryBaseMs: number;
  /** Longest retry delay. */
  retryMaxMs: number;
  /** Attempts before giving up (the row is kept, marked failed). */
  maxAttempts: number;
}

/** After a failed attempt (1-based): whether to give up, and otherwise how long to wait. */
export function nextAttempt(attempt: number, options: BackoffOptions): { giveUp: boolean; delayMs: number } {
  return { giveUp: attempt >= options.maxAttempts, delayMs: Math.min(options.retryMaxMs, options.retryBaseMs * 2 ** (attempt - 1)) };
}

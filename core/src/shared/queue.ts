/**
 * Small named queues shared by instances, for round-robin choices (e.g. the next agent of an inbox).
 * In memory by default; the Redis plugin shares them between instances. Each call is atomic.
 */
export interface SharedQueues {
  /** Replaces the queue's content (e.g. when an inbox's members change). */
  replace(name: string, items: string[]): Promise<void>;
  items(name: string): Promise<string[]>;
  /**
   * Takes the first item that `accept` accepts (tried in queue order), moves it to the back and
   * answers it; null when none is accepted.
   */
  rotate(name: string, accept: (item: string) => boolean | Promise<boolean>): Promise<string | null>;
}

export class MemorySharedQueues implements SharedQueues {
  readonly #queues = new Map<string, string[]>();
  #lock: Promise<unknown> = Promise.resolve();

  async replace(name: string, items: string[]): Promise<void> {
    this.#queues.set(name, [...items]);
  }

  async items(name: string): Promise<string[]> {
    return [...(this.#queues.get(name) ?? [])];
  }

  rotate(name: string, accept: (item: string) => boolean | Promise<boolean>): Promise<string | null> {
    // Serialised: two concurrent rotations never pick from the same snapshot.
    const run = this.#lock.then(async () => {
      const queue = this.#queues.get(name) ?? [];
      for (let i = 0; i < queue.length; i++) {
        const item = queue[i]!;
        if (await accept(item)) {
          queue.splice(i, 1);
          queue.push(item);
          return item;
        }
      }
      return null;
    });
    this.#lock = run.catch(() => {});
    return run;
  }
}

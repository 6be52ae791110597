import type { Viewer } from './viewer.ts';

/** A live socket as its shared access sees it: its context's viewer, and the socket to close. */
interface LiveSocket {
  context: { viewer: Viewer | null };
  close(code: number, reason: string): void;
}

/**
 * The access of the sockets that presented the same authorization to this instance (one user's tabs
 * and devices): re-read at most every `recheckMs`, once for all of them, before an event is
 * delivered — and before the next event after an access change on this instance (`epoch` moved). A
 * user who lost access has every such socket closed (4403). Sockets that share it reach the same
 * decision about an event, which live delivery then makes once (see `deliverDirectly`).
 */
export class LiveAccess {
  readonly #read: () => Viewer | null | Promise<Viewer | null>;
  readonly #recheckMs: number;
  readonly #epoch: () => number;
  /** The epoch the viewer was read in. */
  #readIn: number;
  readonly #sockets = new Map<object, LiveSocket>();
  #viewer: Viewer | null;
  #checkedAt = Date.now();
  /** The read under way, shared by every socket (and subscription) of this access. */
  #reading: Promise<unknown> | undefined;
  /** A read just ended: the next call takes its answer rather than reading again (even with a recheck of 0 ms). */
  #justRead = false;

  constructor(read: () => Viewer | null | Promise<Viewer | null>, viewer: Viewer, recheckMs: number, epoch: () => number) {
    this.#read = read;
    this.#viewer = viewer;
    this.#recheckMs = recheckMs;
    this.#epoch = epoch;
    this.#readIn = epoch();
  }

  /** A socket that just authenticated joins; the viewer it was given is the freshest. */
  join(socket: LiveSocket): void {
    this.#sockets.set(socket.context, socket);
    if (socket.context.viewer !== this.#viewer) this.#adopt(socket.context.viewer);
  }

  /** Answers whether no socket is left. */
  leave(socket: LiveSocket): boolean {
    this.#sockets.delete(socket.context);
    return this.#sockets.size === 0;
  }

  /**
   * The current viewer — at once, unless the user's access is being read: then a promise to wait for
   * before asking again (the next call answers what the read found). It runs per subscriber per event.
   */
  readonly refresh = (): Viewer | null | Promise<unknown> => {
    if (this.#reading) return this.#reading;
    const epoch = this.#epoch();
    if (!this.#viewer || (this.#readIn === epoch && (this.#justRead || Date.now() - this.#checkedAt < this.#recheckMs))) {
      this.#justRead = false;
      return this.#viewer;
    }
    this.#checkedAt = Date.now();
    this.#readIn = epoch;
    let current: Viewer | null | Promise<Viewer | null>;
    try {
      current = this.#read();
    } catch {
      current = null;
    }
    if (!(current instanceof Promise)) return this.#adopt(current);
    this.#reading = current
      .then(
        (viewer) => this.#adopt(viewer),
        () => this.#adopt(null),
      )
      .finally(() => {
        this.#reading = undefined;
        this.#justRead = true;
      });
    return this.#reading;
  };

  #adopt(viewer: Viewer | null): Viewer | null {
    if (viewer === this.#viewer) return viewer;
    this.#viewer = viewer;
    for (const socket of this.#sockets.values()) {
      socket.context.viewer = viewer;
      if (!viewer) socket.close(4403, 'Access revoked');
    }
    return viewer;
  }
}

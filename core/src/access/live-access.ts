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
 *
 * While events keep coming (the last two at most `2 × recheckMs` apart), each also schedules a read
 * ahead, `recheckMs × 0.8` later: the next event then finds its access fresh instead of waiting for a
 * read in front of its delivery. Reads ahead due at about the same time run together (one statement
 * for the stamps of every user they read), and none is scheduled once events stop.
 */
export class LiveAccess {
  readonly #read: () => Viewer | null | Promise<Viewer | null>;
  readonly #recheckMs: number;
  readonly #epoch: () => number;
  /** The epoch the viewer was read in. */
  #readIn: number;
  readonly #sockets = new Map<object, LiveSocket>();
  #viewer: Viewer | null;
  /** When the read that answered the viewer began. */
  #checkedAt = Date.now();
  /** The read under way, shared by every socket (and subscription) of this access. */
  #reading: Promise<unknown> | undefined;
  /** A read just ended: the next call takes its answer rather than reading again (even with a recheck of 0 ms). */
  #justRead = false;
  /** When the last event asked for the viewer, and whether a read ahead is scheduled. */
  #askedAt = 0;
  #readAhead = false;

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
   * The current viewer — at once, unless the user's access must be read first: then a promise to
   * wait for before asking again (the next call answers what the read found). It runs per subscriber
   * per event.
   */
  readonly refresh = (): Viewer | null | Promise<unknown> => {
    const now = Date.now();
    const epoch = this.#epoch();
    if (this.#viewer && !(this.#readIn === epoch && (this.#justRead || now - this.#checkedAt < this.#recheckMs))) return this.#reading ?? this.#readNow(epoch);
    this.#justRead = false;
    if (this.#viewer && this.#recheckMs && !this.#readAhead && now - this.#askedAt <= 2 * this.#recheckMs) {
      this.#readAhead = true;
      readSoon(now + this.#recheckMs * 0.8, () => {
        this.#readAhead = false;
        if (this.#sockets.size && !this.#reading) void this.#readNow(this.#epoch());
      });
    }
    this.#askedAt = now;
    return this.#viewer;
  };

  /** Reads the access: the viewer at once when the read answers at once, else the read's promise. */
  #readNow(epoch: number): Viewer | null | Promise<unknown> {
    const startedAt = Date.now();
    // Until the read ends, the viewer stays as old as it was: those it is not fresh enough for wait.
    const found = (viewer: Viewer | null) => {
      this.#checkedAt = startedAt;
      this.#readIn = epoch;
      return this.#adopt(viewer);
    };
    let current: Viewer | null | Promise<Viewer | null>;
    try {
      current = this.#read();
    } catch {
      current = null;
    }
    if (!(current instanceof Promise)) return found(current);
    this.#reading = current
      .then(found, () => found(null))
      .finally(() => {
        this.#reading = undefined;
        this.#justRead = true;
      });
    return this.#reading;
  }

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

/** Reads ahead waiting for their time; one due within 50 ms of another runs with it (one statement for their stamps). */
const pendingReads: { at: number; reads: (() => void)[] }[] = [];
const BATCH_MS = 50;

function readSoon(at: number, read: () => void): void {
  const near = pendingReads.find((batch) => Math.abs(batch.at - at) <= BATCH_MS);
  if (near) {
    near.reads.push(read);
    return;
  }
  const batch = { at, reads: [read] };
  pendingReads.push(batch);
  setTimeout(
    () => {
      pendingReads.splice(pendingReads.indexOf(batch), 1);
      for (const run of batch.reads) run();
    },
    Math.max(0, at - Date.now()),
  ).unref();
}

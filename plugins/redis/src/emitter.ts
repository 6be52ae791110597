import mqemitterRedis from 'mqemitter-redis';
import type { Connection } from './connection.ts';

/** A pub/sub message as mercurius publishes it. */
export interface Message {
  topic: string;
  [field: string]: unknown;
}
type Callback = (error?: Error) => void;
type Listener = (message: Message, done: () => void) => void;

/** The mqemitter interface mercurius uses (on, removeListener, emit), and the state mqemitter-redis reports errors on. */
export interface RedisEmitter {
  on(topic: string, listener: Listener, done?: () => void): unknown;
  removeListener(topic: string, listener: Listener, done?: () => void): unknown;
  emit(message: Message, done?: Callback): void;
  readonly state: { on(event: 'error', listener: (error: Error) => void): unknown };
}

/** What mqemitter-redis 7.2.1 has beyond its type declarations: the prefixed variant, and local delivery. */
interface PrefixedEmitter extends RedisEmitter {
  /** MQEmitter's own emit (mqemitter-redis keeps it as `_emit`): delivers to this instance's listeners only. */
  _emit(message: Message, done?: Callback): void;
}
const { MQEmitterRedisPrefix } = mqemitterRedis as unknown as {
  MQEmitterRedisPrefix: new (prefix: string, options: { pubConn: unknown; subConn: unknown }) => PrefixedEmitter;
};

/**
 * The subscriptions emitter: mqemitter-redis on the given connections, its channels prefixed.
 * Two changes to how mqemitter-redis behaves on its own when Redis goes away (both observed):
 * - it re-emits connection errors on `state`, and an 'error' event without a listener there crashes
 *   the process at the first failed reconnect: the plugin listens (the connections report errors);
 * - `emit` waits in ioredis' offline queue until Redis is back, and every mutation that publishes
 *   waits with it (as does the outbox dispatcher): while the publishing connection is not ready (an
 *   outage, or the first connection still being made), a message is delivered to this instance's
 *   subscribers only (mqemitter-redis otherwise delivers even local messages through Redis) and the
 *   callback is called at once. Other instances miss it — live events are notifications, and the
 *   outbox keeps the durable path (listeners) going.
 */
export function createEmitter(pub: Connection, sub: Connection, channelPrefix: string, report: (error: Error) => void): RedisEmitter {
  const emitter = new MQEmitterRedisPrefix(channelPrefix, { pubConn: pub.redis, subConn: sub.redis });
  // Connection errors are reported by the connections themselves, once per outage.
  emitter.state.on('error', () => {});
  const publish = emitter.emit.bind(emitter);
  emitter.emit = (message: Message, done: Callback = () => {}) => {
    if (pub.status === 'end') return done(new Error('The Redis emitter is closed'));
    if (!pub.ready) {
      emitter._emit({ ...message, topic: channelPrefix + message.topic }, () => done());
      return;
    }
    publish(message, (error) => {
      // E.g. a command timeout: Redis went away with the message in flight. It may still arrive later.
      if (error) report(new Error(`publishing to ${message.topic} failed: ${error.message}`, { cause: error }));
      done(error);
    });
  };
  return emitter;
}

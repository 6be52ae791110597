import type { MikroORM } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/sql';
import { nextAttempt, type BackoffOptions } from './backoff.ts';
import type { DomainEvent, EventListener, ModuleContext } from '../plugin/manifest.ts';
import type { ResolvedPlugin } from '../plugin/registry.ts';
import { topic, type Publish, type Topic } from '../graphql/subscriptions.ts';
import { deliverToWebhook } from '../webhooks/webhooks.ts';
import { arrayParam } from '../db/array-param.ts';
import { executePrepared } from '../db/prepared.ts';

/** Settings of the event dispatcher. */
export interface DispatcherOptions extends BackoffOptions {
  /** How often pending events and due retries are looked for (events committed here wake it at once). */
  pollMs: number;
  /** How long dispatched events are kept. */
  retentionMs: number;
  webhooks: { timeoutMs: number; disableAfter: number };
}

/** The subscription topic every event of a name, in a company, is published to. */
export function eventTopic<Payload = unknown>(companyId: string | null, name: string): Topic<DomainEvent<Payload>> {
  return topic<DomainEvent<Payload>>('event', companyId ?? 'platform', name);
}

interface EventRow {
  id: string;
  name: string;
  company_id: string | null;
  payload: unknown;
  occurred_at: Date | string;
}

interface DeliveryRow extends EventRow {
  target: string;
  attempts: number;
}

/** Where the dispatcher reports failures (a pino logger fits). */
export type DispatcherLog = { error(object: unknown, message?: string): void; warn(object: unknown, message?: string): void };

const BATCH = 100;

/**
 * Delivers committed outbox events: to GraphQL subscription topics, and to the modules' listeners —
 * each listener run in a transaction of its own, retried with backoff until it succeeds (at least
 * once; the event id lets listeners be idempotent). Instances share the work through row locks
 * (SKIP LOCKED) and delivery leases, so any instance picks up what another left behind.
 */
export class EventDispatcher {
  readonly #orm: MikroORM;
  readonly #publish: Publish;
  readonly #listeners = new Map<string, { target: string; module: string; listener: EventListener }[]>();
  /** Every (event name, listener target) pair, as the two array parameters of the dispatch statement. */
  readonly #listenerParams: [names: string, targets: string];
  readonly #contexts: Map<string, ModuleContext>;
  readonly #options: DispatcherOptions;
  readonly #log: DispatcherLog;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  /** Another run is wanted once the current one ends; `#againAll`: one that also looks for due deliveries. */
  #again = false;
  #againAll = false;
  #stopped = true;

  constructor(
    orm: MikroORM,
    modules: readonly ResolvedPlugin[],
    contexts: Map<string, ModuleContext>,
    publish: Publish,
    options: DispatcherOptions,
    log: DispatcherLog,
    /** The kernel's own listeners (context: the `core` entry of `contexts`). */
    kernelListeners: Record<string, EventListener> = {},
  ) {
    this.#orm = orm;
    this.#publish = publish;
    this.#contexts = contexts;
    this.#options = options;
    this.#log = log;
    for (const [name, listener] of Object.entries(kernelListeners)) {
      this.#listeners.set(name, [{ target: `core:${name}`, module: 'core', listener }]);
    }
    for (const { plugin } of modules) {
      for (const [name, listener] of Object.entries(plugin.on ?? {})) {
        const list = this.#listeners.get(name) ?? [];
        list.push({ target: `module:${plugin.name}`, module: plugin.name, listener });
        this.#listeners.set(name, list);
      }
    }
    const pairs = [...this.#listeners].flatMap(([name, list]) => list.map((entry) => [name, entry.target] as const));
    this.#listenerParams = [arrayParam(pairs.map(([name]) => name)), arrayParam(pairs.map(([, target]) => target))];
  }

  start(): void {
    this.#stopped = false;
    this.#timer = setInterval(() => this.wake(), this.#options.pollMs);
    this.#timer.unref();
    this.wake();
  }

  /**
   * Looks for work now. `{ eventsOnly: true }` (after a commit that wrote events): dispatches pending
   * events, and runs deliveries only if those recorded some — retries that come due are left to the
   * poll, so an event nobody listens to costs one statement, not two.
   */
  wake(options: { eventsOnly?: boolean } = {}): void {
    if (this.#stopped) return;
    const all = !options.eventsOnly;
    if (this.#running) {
      this.#again = true;
      this.#againAll ||= all;
      return;
    }
    this.#running = this.#work(all).finally(() => {
      this.#running = undefined;
      if (this.#again) {
        const againAll = this.#againAll;
        this.#again = false;
        this.#againAll = false;
        this.wake({ eventsOnly: !againAll });
      }
    });
  }

  /** Finishes the work in hand and stops; undelivered events stay in the outbox for the next start. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#running;
  }

  /** Resolves when no event waits for dispatch and no delivery waits for a (re)try — tests use it. */
  async idle(): Promise<void> {
    for (;;) {
      await this.#running;
      const [pending] = await this.#sql<{ n: number }>(
        `select (select count(*) from atrium_event where dispatched_at is null)
              + (select count(*) from atrium_event_delivery where done_at is null and failed_at is null) as n`,
      );
      if (Number(pending?.n ?? 0) === 0 && !this.#running) return;
      this.wake();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async #work(all: boolean): Promise<void> {
    try {
      let recorded = false;
      for (let batch = { events: BATCH, deliveries: 0 }; !this.#stopped && batch.events === BATCH; ) {
        batch = await this.#dispatchBatch();
        recorded ||= batch.deliveries > 0;
      }
      if (!all && !recorded) return;
      while (!this.#stopped && (await this.#runDeliveries()) > 0);
    } catch (error) {
      this.#log.error({ err: error }, 'event dispatch failed; retrying on the next poll');
    }
  }

  /** Runs prepared: planning the dispatch statement was about a third of its cost, paid once per committed event. */
  #sql<T>(query: string, params: unknown[] = [], em?: EntityManager): Promise<T[]> {
    return executePrepared(em ?? (this.#orm.em as EntityManager), query, params) as Promise<T[]>;
  }

  /**
   * Takes pending events, marks them dispatched and records a delivery per listener and per matching
   * webhook — in one statement, so in one round trip and atomically — then publishes them. Answers
   * how many events it took and how many deliveries it recorded.
   */
  async #dispatchBatch(): Promise<{ events: number; deliveries: number }> {
    const events = await this.#sql<EventRow & { recorded: number }>(
      `with claimed as (
         select id from atrium_event where dispatched_at is null order by id limit ? for update skip locked
       ), dispatched as (
         update atrium_event e set dispatched_at = now() from claimed where e.id = claimed.id
         returning e.id, e.name, e.company_id, e.payload, e.occurred_at
       ), deliveries as (
         insert into atrium_event_delivery (event_id, target)
         select d.id, l.target from dispatched d join unnest(?::text[], ?::text[]) as l (name, target) on l.name = d.name
         union all
         select d.id, 'webhook:' || w.id from dispatched d
           join webhook w on w.active and w.company_id = d.company_id and (d.name = any(w.events) or '*' = any(w.events))
         on conflict do nothing
         returning event_id
       )
       select d.*, (select count(*) from deliveries)::int as recorded from dispatched d order by id`,
      [BATCH, ...this.#listenerParams],
    );
    for (const row of events) await this.#publish(eventTopic(row.company_id, row.name), toDomainEvent(row));
    return { events: events.length, deliveries: events[0]?.recorded ?? 0 };
  }

  /** Leases due deliveries and runs each listener in its own transaction. */
  async #runDeliveries(): Promise<number> {
    const leaseMs = 60_000;
    const due = await this.#sql<DeliveryRow>(
      `with due as (
         select event_id, target from atrium_event_delivery
         where done_at is null and failed_at is null and next_attempt_at <= now() and (leased_until is null or leased_until < now())
         order by next_attempt_at limit 20 for update skip locked
       )
       update atrium_event_delivery d set leased_until = now() + (? * interval '1 millisecond'), attempts = d.attempts + 1
       from due, atrium_event e
       where d.event_id = due.event_id and d.target = due.target and e.id = d.event_id
       returning d.target, d.attempts, e.id, e.name, e.company_id, e.payload, e.occurred_at`,
      [leaseMs],
    );
    for (const delivery of due) await this.#deliver(delivery);
    return due.length;
  }

  async #deliver(delivery: DeliveryRow): Promise<void> {
    const em = this.#orm.em.fork({ disableContextResolution: true }) as EntityManager;
    if (delivery.company_id) em.setFilterParams('tenant', { companyId: delivery.company_id });
    try {
      let responseStatus: number | null = null;
      if (delivery.target.startsWith('webhook:')) {
        responseStatus = await deliverToWebhook(em, delivery.target.slice('webhook:'.length), toDomainEvent(delivery), this.#options.webhooks);
      } else {
        const entry = (this.#listeners.get(delivery.name) ?? []).find((l) => l.target === delivery.target);
        if (!entry) throw new Error(`No listener ${delivery.target} for ${delivery.name}`);
        const context = this.#contexts.get(entry.module)!;
        await em.transactional((tx) => entry.listener(toDomainEvent(delivery), { ...context, em: tx as EntityManager }));
      }
      await this.#sql(
        'update atrium_event_delivery set done_at = now(), leased_until = null, last_error = null, response_status = ? where event_id = ? and target = ?',
        [responseStatus, delivery.id, delivery.target],
      );
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const { giveUp, delayMs: delay } = nextAttempt(delivery.attempts, this.#options);
      this.#log.warn({ err: error, event: delivery.id, target: delivery.target, attempt: delivery.attempts }, giveUp ? 'event listener failed for good' : 'event listener failed; will retry');
      await this.#sql(
        `update atrium_event_delivery set leased_until = null, last_error = ?, response_status = ?, next_attempt_at = now() + (? * interval '1 millisecond'),
         failed_at = ${giveUp ? 'now()' : 'null'} where event_id = ? and target = ?`,
        [message.slice(0, 2000), (error as { responseStatus?: number | null }).responseStatus ?? null, delay, delivery.id, delivery.target],
      );
    }
  }

  /**
   * Drops dispatched events past retention whose deliveries all ended. The kernel's periodic job
   * `core.pruneEvents` passes its transaction's EntityManager: on PGlite's single connection a query
   * beside an open transaction would wait for it forever.
   */
  async prune(em?: EntityManager): Promise<void> {
    await this.#sql(
      `delete from atrium_event e where e.dispatched_at < now() - (? * interval '1 millisecond')
       and not exists (select 1 from atrium_event_delivery d where d.event_id = e.id and d.done_at is null and d.failed_at is null)`,
      [this.#options.retentionMs],
      em,
    );
  }
}

function toDomainEvent(row: EventRow): DomainEvent {
  return { id: row.id, name: row.name, companyId: row.company_id, payload: row.payload, occurredAt: new Date(row.occurred_at) };
}

import { defineEntity, p, type InferEntity, type MikroORM } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/sql';
import { nextAttempt, type BackoffOptions } from '../events/backoff.ts';
import { createdAt, primaryId } from '../db/columns.ts';
import type { TenantFilterParams } from '../db/orm.ts';
import type { ModuleContext } from '../plugin/manifest.ts';
import { afterCommit } from '../db/after-commit.ts';
import { executePrepared } from '../db/prepared.ts';

/** A job a module declares in its manifest (`jobs: { '<module>.<name>': { … } }`). */
export interface JobDefinition {
  /** Run every this many milliseconds (a periodic job); absent: run when enqueued. */
  every?: number;
  run(job: JobRun, context: JobContext): Promise<void> | void;
}

/** One run of a job. */
export interface JobRun {
  name: string;
  /** The job's payload (periodic jobs: `{}`). */
  payload: unknown;
  companyId: string | null;
  /** Periodic jobs: the slot this run claimed (one instance per slot). */
  scheduledFor: Date;
  attempt: number;
}

/** What a job runs with: its module's context and an EntityManager in a transaction of its own. */
export interface JobContext extends ModuleContext {
  em: EntityManager;
  /** Runs `step` once the job's transaction has committed (e.g. publishing live events); not if it fails. */
  afterCommit(step: () => Promise<void> | void): void;
}

export const Job = defineEntity({
  name: 'Job',
  tableName: 'atrium_job',
  properties: {
    id: primaryId(),
    name: p.string().length(200),
    jobCompanyId: p.uuid().fieldName('company_id').nullable(),
    payload: p.json<unknown>(),
    runAt: p.datetime(),
    attempts: p.integer().default(0),
    createdAt: createdAt(),
  },
});
export type Job = InferEntity<typeof Job>;

/**
 * Adds a one-off job to the EntityManager's unit of work: it is written with the caller's change
 * (rolled back with it) and runs at `runAt` (default now), retried with backoff until it succeeds.
 */
export function enqueueJob(em: EntityManager, name: string, payload: unknown = {}, options: { runAt?: Date } = {}): Job {
  const companyId = em.getFilterParams<TenantFilterParams>('tenant')?.companyId ?? null;
  return em.create(Job, { name, jobCompanyId: companyId, payload: payload as object, runAt: options.runAt ?? new Date(), attempts: 0 });
}

/** A job as the runner knows it: its definition and the module that declared it. */
export interface JobRegistration {
  module: string;
  definition: JobDefinition;
}

interface JobRow {
  id: string;
  name: string;
  company_id: string | null;
  payload: unknown;
  run_at: Date | string;
  attempts: number;
}

export interface JobRunnerOptions extends BackoffOptions {
  pollMs: number;
}

/** Where the runner reports failures (a pino logger fits). */
export type JobRunnerLog = { error(object: unknown, message?: string): void; warn(object: unknown, message?: string): void };

/** Runs due one-off jobs and periodic jobs, sharing the work between instances through the database. */
export class JobRunner {
  readonly #orm: MikroORM;
  readonly #jobs: Map<string, JobRegistration>;
  readonly #contexts: Map<string, ModuleContext>;
  readonly #options: JobRunnerOptions;
  readonly #log: JobRunnerLog;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again: Promise<void> | undefined;
  #stopped = true;

  constructor(orm: MikroORM, jobs: Map<string, JobRegistration>, contexts: Map<string, ModuleContext>, options: JobRunnerOptions, log: JobRunnerLog) {
    this.#orm = orm;
    this.#jobs = jobs;
    this.#contexts = contexts;
    this.#options = options;
    this.#log = log;
  }

  async start(): Promise<void> {
    // Every periodic job gets a schedule row (first run one period from now); existing rows stay.
    for (const [name, { definition }] of this.#jobs) {
      if (!definition.every) continue;
      await this.#sql(`insert into atrium_schedule (name, next_run_at) values (?, now() + (? * interval '1 millisecond')) on conflict (name) do nothing`, [
        name,
        definition.every,
      ]);
    }
    this.#stopped = false;
    this.#timer = setInterval(() => this.tick(), this.#options.pollMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#running;
  }

  /** Looks for due work now: the promise settles after a pass that began after this call. */
  tick(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    // A pass under way may have looked before the caller's work became due: one more follows it.
    if (this.#running) {
      this.#again ??= this.#running.then(() => {
        this.#again = undefined;
        return this.tick();
      });
      return this.#again;
    }
    this.#running = this.#work().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Runs prepared, as the event dispatcher does: every poll of every instance sends these. */
  #sql<T>(query: string, params: unknown[] = []): Promise<T[]> {
    return executePrepared(this.#orm.em as EntityManager, query, params) as Promise<T[]>;
  }

  async #work(): Promise<void> {
    try {
      await this.#runPeriodic();
      await this.#runOneOff();
    } catch (error) {
      this.#log.error({ err: error }, 'background jobs failed; retrying on the next poll');
    }
  }

  async #runPeriodic(): Promise<void> {
    for (const [name, registered] of this.#jobs) {
      const every = registered.definition.every;
      if (!every || this.#stopped) continue;
      // Claiming the slot moves it on: of several instances, exactly one gets each slot.
      const [claimed] = await this.#sql<{ scheduled_for: Date | string }>(
        `update atrium_schedule s set next_run_at = greatest(s.next_run_at + (? * interval '1 millisecond'), now()), last_run_at = now()
         from (select name, next_run_at from atrium_schedule where name = ? and next_run_at <= now() for update skip locked) due
         where s.name = due.name returning due.next_run_at as scheduled_for`,
        [every, name],
      );
      if (!claimed) continue;
      const run: JobRun = { name, payload: {}, companyId: null, scheduledFor: new Date(claimed.scheduled_for), attempt: 1 };
      try {
        await this.#execute(registered, run);
        await this.#sql('update atrium_schedule set last_error = null where name = ?', [name]);
      } catch (error) {
        // A periodic job is not retried: its next slot comes soon enough.
        this.#log.warn({ err: error, job: name }, 'periodic job failed');
        await this.#sql('update atrium_schedule set last_error = ? where name = ?', [String((error as Error).message).slice(0, 2000), name]);
      }
    }
  }

  async #runOneOff(): Promise<void> {
    for (;;) {
      if (this.#stopped) return;
      const due = await this.#sql<JobRow>(
        `with due as (
           select id from atrium_job where done_at is null and failed_at is null and run_at <= now() and (leased_until is null or leased_until < now())
           order by run_at limit 10 for update skip locked
         )
         update atrium_job j set leased_until = now() + interval '5 minutes', attempts = j.attempts + 1
         from due where j.id = due.id
         returning j.id, j.name, j.company_id, j.payload, j.run_at, j.attempts`,
      );
      if (due.length === 0) return;
      for (const row of due) await this.#runJob(row);
    }
  }

  async #runJob(row: JobRow): Promise<void> {
    const registered = this.#jobs.get(row.name);
    try {
      if (!registered) throw new Error(`No job named ${row.name} is installed`);
      await this.#execute(registered, { name: row.name, payload: row.payload, companyId: row.company_id, scheduledFor: new Date(row.run_at), attempt: row.attempts });
      await this.#sql('update atrium_job set done_at = now(), leased_until = null, last_error = null where id = ?', [row.id]);
    } catch (error) {
      const { giveUp, delayMs: delay } = nextAttempt(row.attempts, this.#options);
      this.#log.warn({ err: error, job: row.name, attempt: row.attempts }, giveUp ? 'job failed for good' : 'job failed; will retry');
      await this.#sql(
        `update atrium_job set leased_until = null, last_error = ?, run_at = now() + (? * interval '1 millisecond'), failed_at = ${giveUp ? 'now()' : 'null'} where id = ?`,
        [String((error as Error).message).slice(0, 2000), delay, row.id],
      );
    }
  }

  async #execute(registered: JobRegistration, run: JobRun): Promise<void> {
    const em = this.#orm.em.fork({ disableContextResolution: true }) as EntityManager;
    if (run.companyId) em.setFilterParams('tenant', { companyId: run.companyId });
    const context = this.#contexts.get(registered.module)!;
    // The job's work is committed before its follow-ups run: a failing one is logged, not retried with the job.
    const followUp = (step: () => Promise<void> | void) => async () => {
      try {
        await step();
      } catch (error) {
        this.#log.error({ err: error, job: run.name }, 'a step after a job committed failed');
      }
    };
    await em.transactional((tx) =>
      registered.definition.run(run, { ...context, em: tx as EntityManager, afterCommit: (step) => void afterCommit(tx as EntityManager, followUp(step)) }),
    );
  }
}

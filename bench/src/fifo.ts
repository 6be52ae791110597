/**
 * Scenario 4, FIFO contention: agent checkouts at 1, 4, 8, 16 and 32 concurrent clients, on one hot
 * product (every client is the same agent racing for the same FIFO layers) and on spread products
 * (every client its own agent and stock), on PostgreSQL. Atrium's `checkoutAgentCart` over GraphQL
 * (server in a child process on core 1, clients in this process on core 0) against a pgbench script
 * doing the same allocation in plain SQL on the same tables (`bench/sql/fifo-checkout.sql`). After
 * every run the ledger is checked: no oversell, FIFO order. Then checkout latency at 0, 10k and 100k
 * historical sales of the measured agent.
 */
import { mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { ChildProcess } from 'node:child_process';
import type { GcTimeMessage } from './servers/gc-time.ts';
import { medianCounts, type SqlCountRequest, type SqlCounts, type SqlCountsMessage } from './servers/sql-count.ts';
import { atriumLoad, CHECKOUT, floorLoad, type LoadResult } from './fifo-load.ts';
import { QTY, QUEUE_DDL, resetRun, seedFixture, seedHistory, seedRun, type Shape } from './fifo-seed.ts';
import { verifyRun, type RunCheck } from './fifo-verify.ts';
import { benchDir, canPin, cpuSample, type CpuSample, isQuick, listOption, median, pinSelf, postmasterOf, spawnNode, stop, table, writeResult } from './proc.ts';

type PeerName = 'atrium' | 'sql-floor';
const PEERS: PeerName[] = ['atrium', 'sql-floor'];

const LEVELS = listOption('levels', isQuick ? ['1', '8'] : ['1', '4', '8', '16', '32']).map(Number);
const SHAPES = listOption('shapes', isQuick ? ['hot'] : ['hot', 'spread']) as Shape[];
const ROUNDS = Number(listOption('rounds', [isQuick ? '1' : '3'])[0]);
if (SHAPES.some((shape) => shape !== 'hot' && shape !== 'spread') || LEVELS.some((n) => !(n >= 1 && 32 % n === 0)) || !(ROUNDS >= 1)) {
  throw new Error('--shapes= takes hot and spread, --levels= divisors of 32 (clients), --rounds= a count');
}
/**
 * Checkouts per run (multiples of 32, so that they split evenly over every level's clients). The
 * floor is an order of magnitude faster: it gets more carts so that its runs last long enough to
 * measure; the rate and latencies are compared, not the totals.
 */
const CHECKOUTS: Record<PeerName, number> = isQuick ? { atrium: 160, 'sql-floor': 640 } : { atrium: 480, 'sql-floor': 2400 };
/** Historical sales before the latency runs, and those runs' checkouts (one client, hot product). */
const HISTORY = listOption('history', isQuick ? ['0', '10000'] : ['0', '10000', '100000']).map(Number);
const HISTORY_CHECKOUTS: Record<PeerName, number> = isQuick ? { atrium: 100, 'sql-floor': 300 } : { atrium: 300, 'sql-floor': 1000 };
const HISTORY_ROUNDS = isQuick ? 1 : 2;
/** Single checkouts whose SQL statements are counted. */
const COUNTED_CHECKOUTS = isQuick ? 3 : 10;
const DEADLINE_MS = isQuick ? 90_000 : 30 * 60_000;
const DATABASE = 'atrium_bench_fifo';
/** `--cpu-prof`: the Atrium server writes a CPU profile to bench/results/profiles when it stops. */
const PROFILE = process.argv.includes('--cpu-prof');

/**
 * CPU per checkout during a run, ms: the whole machine's, and of it the Atrium server's process, the
 * runner's (Atrium's clients live in it) and PostgreSQL's (null when the server is not on this
 * machine); the rest is whatever else the machine ran meanwhile (pgbench, for the floor; the kernel's
 * work outside these processes; PostgreSQL too when it is not counted).
 */
interface CheckoutCpu {
  machineMs: number;
  serverMs: number;
  /** Of the server's, its main thread's garbage collection pauses (Atrium; null for the floor). */
  serverGcMs: number | null;
  runnerMs: number;
  postgresMs: number | null;
  restMs: number;
}

interface Measured {
  checkoutsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  check: RunCheck;
  refused: number;
  /** Null where the machine has no `/proc`. */
  cpu: CheckoutCpu | null;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function startAtrium(databaseUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const profile = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${benchDir}/results/profiles`] : [];
  if (PROFILE) mkdirSync(`${benchDir}/results/profiles`, { recursive: true });
  const child = spawnNode([...profile, '--conditions=development', `${benchDir}/src/servers/atrium-agent-sales.ts`], {
    ipc: true,
    env: { NODE_ENV: 'production', DATABASE_URL: databaseUrl, BENCH_JWT_SECRET: randomBytes(32).toString('base64url') },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`atrium exited (${code}) before listening:\n${stderr}`));
    child.once('exit', onExit);
    child.once('message', (message: { port: number }) => {
      child.off('exit', onExit);
      resolve({ child, url: `http://127.0.0.1:${message.port}/graphql` });
    });
  });
}

/** Sends a request to the Atrium server over IPC and waits for its answer, the next message of the same type. */
function askServer<Answer extends { type: string }>(child: ChildProcess, request: { type: Answer['type']; [field: string]: unknown }): Promise<Answer> {
  return new Promise((resolve) => {
    const onMessage = (message: Answer) => {
      if (message?.type !== request.type) return;
      child.off('message', onMessage);
      resolve(message);
    };
    child.on('message', onMessage);
    child.send(request);
  });
}

/** Sends a counting request to the Atrium server and waits for its counts (see servers/sql-count.ts). */
const sqlCounts = (child: ChildProcess, action: SqlCountRequest['action']) => askServer<SqlCountsMessage>(child, { type: 'sql', action } satisfies SqlCountRequest);

/** The Atrium server's garbage collection time so far (see servers/gc-time.ts). */
const gcTime = (child: ChildProcess) => askServer<GcTimeMessage>(child, { type: 'gc' });

/** Waits until Atrium's dispatcher has delivered the outbox: its backlog must not run into the next peer's run. */
async function outboxDrained(db: pg.Client): Promise<void> {
  for (let waited = 0; waited < 30_000; waited += 100) {
    const [row] = (await db.query<{ pending: number }>('select count(*)::int as pending from atrium_event where dispatched_at is null')).rows;
    if (!row!.pending) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the outbox did not drain in 30 s');
}

function cpuPerCheckout(before: CpuSample, after: CpuSample, checkouts: number, gcMs: number | null): CheckoutCpu {
  const used = (from: number, to: number) => (to - from) / checkouts;
  const machineMs = used(before.machineMs, after.machineMs);
  const serverMs = used(before.processMs[0]!, after.processMs[0]!);
  const runnerMs = used(before.processMs[1]!, after.processMs[1]!);
  const postgresMs = before.postgresMs === null || after.postgresMs === null ? null : used(before.postgresMs, after.postgresMs);
  // Every run makes PostgreSQL work for hundreds of milliseconds: none counted means the reading is broken.
  if (postgresMs !== null && postgresMs <= 0) throw new Error(`PostgreSQL's CPU read as ${postgresMs} ms per checkout from /proc`);
  return { machineMs, serverMs, serverGcMs: gcMs === null ? null : gcMs / checkouts, runnerMs, postgresMs, restMs: machineMs - serverMs - runnerMs - (postgresMs ?? 0) };
}

async function main(): Promise<void> {
  pinSelf();
  const deadline = setTimeout(() => {
    console.error(`fifo: not done after ${DEADLINE_MS / 1000} s`);
    process.exit(1);
  }, DEADLINE_MS);
  deadline.unref();
  const began = Date.now();

  const serverUrl = new URL(process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres');
  const databaseUrl = new URL(serverUrl);
  databaseUrl.pathname = `/${DATABASE}`;
  databaseUrl.search = '';
  const admin = new pg.Client({ connectionString: serverUrl.toString() });
  await admin.connect();
  const postgres = (await admin.query<{ server_version: string }>('show server_version')).rows[0]!.server_version;
  // PostgreSQL's share of the CPU is counted when it runs on this machine.
  const postmaster = postmasterOf((await admin.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid);
  // Left over by an interrupted run.
  await admin.query(`drop database if exists ${DATABASE} with (force)`);
  await admin.query(`create database ${DATABASE}`);
  const db = new pg.Client({ connectionString: databaseUrl.toString() });
  let atrium: { child: ChildProcess; url: string } | undefined;
  const contention: { shape: Shape; clients: number; peer: PeerName; rounds: Measured[] }[] = [];
  const history: { sales: number; peer: PeerName; rounds: Measured[] }[] = [];
  let statements: SqlCounts | undefined;
  let statementsOfOneCheckout: string[] = [];
  try {
    atrium = await startAtrium(databaseUrl.toString());
    const fixture = await seedFixture(atrium.url);
    await db.connect();
    await db.query(QUEUE_DDL);
    console.log(`seeded a company, ${fixture.agents.length} agents and ${1 + fixture.spreadProductIds.length} products through Atrium in ${((Date.now() - began) / 1000).toFixed(1)} s`);

    const run = async (peer: PeerName, shape: Shape, clients: number, checkouts: number): Promise<Measured> => {
      await resetRun(db);
      await outboxDrained(db);
      const plan = await seedRun(db, fixture, shape, clients, checkouts);
      const pids = [atrium!.child.pid!, process.pid];
      // Asked outside the CPU readings: the IPC round trip is not the run's.
      const gcBefore = peer === 'atrium' ? await gcTime(atrium!.child) : null;
      const before = cpuSample(pids, postmaster);
      const load: LoadResult = peer === 'atrium' ? await atriumLoad(atrium!.url, fixture, plan, QTY) : await floorLoad(databaseUrl, plan);
      const after = cpuSample(pids, postmaster);
      const gcMs = gcBefore ? (await gcTime(atrium!.child)).pauseMs - gcBefore.pauseMs : null;
      const label = `${peer} ${shape} ×${clients}`;
      const check = await verifyRun(db, plan, label);
      const refused = peer === 'atrium' ? load.refused : checkouts - check.sales;
      if (refused !== clients || check.sales + refused !== load.latencies.length) throw new Error(`${label}: ${refused} refused and ${check.sales} sold of ${load.latencies.length} checkouts`);
      return {
        checkoutsPerSecond: check.sales / (load.elapsedMs / 1000),
        p50Ms: percentile(load.latencies, 50),
        p99Ms: percentile(load.latencies, 99),
        check,
        refused,
        cpu: before && after ? cpuPerCheckout(before, after, load.latencies.length, gcMs) : null,
      };
    };

    // Warm-up, not recorded: code paths, plans and connections of both peers.
    for (const peer of PEERS) await run(peer, 'hot', 8, isQuick ? 64 : 320);

    // Atrium's SQL statements per checkout: single checkouts, each counted alone (medians by kind).
    await resetRun(db);
    const counted: SqlCountsMessage[] = [];
    const single = await seedRun(db, fixture, 'hot', 1, COUNTED_CHECKOUTS + 1);
    await sqlCounts(atrium.child, 'begin');
    try {
      for (const cartId of single.carts[0]!.slice(0, COUNTED_CHECKOUTS)) {
        await atriumLoad(atrium.url, fixture, { ...single, carts: [[cartId]] }, QTY);
        counted.push(await sqlCounts(atrium.child, 'read'));
      }
    } finally {
      await sqlCounts(atrium.child, 'end');
    }
    statements = medianCounts(counted);
    statementsOfOneCheckout = counted.at(-1)!.statements;
    console.log(`atrium: SQL statements per checkout: ${statements.data} data + ${statements.transaction} transaction + ${statements.session} RLS session in ${statements.roundTrips} round trips (the floor: 3 + 2 + 0 in 5)`);

    for (const shape of SHAPES) {
      for (const clients of LEVELS) {
        const entries = PEERS.map((peer) => ({ shape, clients, peer, rounds: [] as Measured[] }));
        contention.push(...entries);
        for (let round = 1; round <= ROUNDS; round++) {
          for (const entry of entries) {
            const measured = await run(entry.peer, shape, clients, CHECKOUTS[entry.peer]);
            entry.rounds.push(measured);
            console.log(
              `${shape.padEnd(6)} ×${String(clients).padEnd(2)} round ${round}/${ROUNDS}  ${entry.peer.padEnd(9)} ${measured.checkoutsPerSecond.toFixed(0).padStart(6)} checkouts/s  p50 ${measured.p50Ms.toFixed(1)} ms  p99 ${measured.p99Ms.toFixed(1)} ms  (${measured.check.sales} sold, ${measured.refused} refused, ${measured.check.straddling} across layers; ledger and FIFO ok)`,
            );
          }
        }
      }
    }

    let seeded = 0;
    for (const sales of HISTORY) {
      const started = Date.now();
      await resetRun(db);
      await seedHistory(db, fixture, seeded, sales);
      seeded = sales;
      if (sales) console.log(`history: ${sales} sales of agent 0 in the ledger (seeded in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
      const entries = PEERS.map((peer) => ({ sales, peer, rounds: [] as Measured[] }));
      history.push(...entries);
      for (let round = 1; round <= HISTORY_ROUNDS; round++) {
        for (const entry of entries) {
          const measured = await run(entry.peer, 'hot', 1, HISTORY_CHECKOUTS[entry.peer]);
          entry.rounds.push(measured);
          console.log(`history ${String(sales).padStart(6)} round ${round}/${HISTORY_ROUNDS}  ${entry.peer.padEnd(9)} p50 ${measured.p50Ms.toFixed(2)} ms  p99 ${measured.p99Ms.toFixed(2)} ms  (ledger and FIFO ok)`);
        }
      }
    }
  } finally {
    if (atrium) await stop(atrium.child);
    await db.end().catch(() => {});
    await admin.query(`drop database if exists ${DATABASE} with (force)`);
    await admin.end();
  }

  const medianCpu = (cpus: CheckoutCpu[]): CheckoutCpu => ({
    machineMs: median(cpus.map((c) => c.machineMs)),
    serverMs: median(cpus.map((c) => c.serverMs)),
    serverGcMs: cpus.every((c) => c.serverGcMs !== null) ? median(cpus.map((c) => c.serverGcMs!)) : null,
    runnerMs: median(cpus.map((c) => c.runnerMs)),
    postgresMs: cpus.every((c) => c.postgresMs !== null) ? median(cpus.map((c) => c.postgresMs!)) : null,
    restMs: median(cpus.map((c) => c.restMs)),
  });
  const summarise = (rounds: Measured[]) => ({
    checkoutsPerSecond: median(rounds.map((r) => r.checkoutsPerSecond)),
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    cpu: rounds.every((r) => r.cpu) ? medianCpu(rounds.map((r) => r.cpu!)) : null,
  });
  const contentionRows = SHAPES.flatMap((shape) =>
    LEVELS.map((clients) => {
      const of = (peer: PeerName) => contention.find((c) => c.shape === shape && c.clients === clients && c.peer === peer)!;
      const a = summarise(of('atrium').rounds);
      const f = summarise(of('sql-floor').rounds);
      return {
        shape,
        clients,
        atrium: a,
        sqlFloor: f,
        ratio: {
          checkoutsPerSecond: a.checkoutsPerSecond / f.checkoutsPerSecond,
          p99: a.p99Ms / f.p99Ms,
          // Where the machine's CPU bounds both peers, the rate ratio cannot exceed this.
          cpuBound: a.cpu && f.cpu ? f.cpu.machineMs / a.cpu.machineMs : null,
        },
        rounds: { atrium: of('atrium').rounds, sqlFloor: of('sql-floor').rounds },
      };
    }),
  );
  const historyRows = HISTORY.map((sales) => {
    const of = (peer: PeerName) => history.find((h) => h.sales === sales && h.peer === peer)!;
    return { sales, atrium: summarise(of('atrium').rounds), sqlFloor: summarise(of('sql-floor').rounds), rounds: { atrium: of('atrium').rounds, sqlFloor: of('sql-floor').rounds } };
  });
  const result = {
    postgres,
    load: { rounds: ROUNDS, checkoutsPerRun: CHECKOUTS, unitsPerCart: QTY, historyRounds: HISTORY_ROUNDS, historyCheckoutsPerRun: HISTORY_CHECKOUTS },
    query: CHECKOUT,
    atriumStatementsPerCheckout: statements,
    atriumStatementsOfOneCheckout: statementsOfOneCheckout,
    floorStatementsPerCheckout: { data: 3, transaction: 2, session: 0, roundTrips: 5 },
    contention: contentionRows,
    history: historyRows,
  };
  const file = writeResult('fifo', result);
  console.log(`\nFIFO contention (${isQuick ? 'quick' : 'full'}: ${ROUNDS} round(s), ${CHECKOUTS.atrium} Atrium / ${CHECKOUTS['sql-floor']} floor checkouts per run${canPin ? ', pinned' : ''}); zero oversell and FIFO order verified after every run\n`);
  console.log(
    table(
      ['shape', 'clients', 'atrium checkouts/s', 'floor checkouts/s', 'atrium/floor', 'atrium p99 ms', 'floor p99 ms', 'atrium/floor p99'],
      contentionRows.map((r) => [
        r.shape,
        String(r.clients),
        r.atrium.checkoutsPerSecond.toFixed(0),
        r.sqlFloor.checkoutsPerSecond.toFixed(0),
        r.ratio.checkoutsPerSecond.toFixed(2),
        r.atrium.p99Ms.toFixed(1),
        r.sqlFloor.p99Ms.toFixed(1),
        r.ratio.p99.toFixed(2),
      ]),
    ),
  );
  const cpuRows = contentionRows.filter((r) => r.atrium.cpu && r.sqlFloor.cpu);
  if (cpuRows.length) {
    const ms = (value: number | null) => (value === null ? '-' : value.toFixed(2));
    console.log(
      "\nCPU per checkout, ms of the whole machine (medians): Atrium's split into its server (of it, its main thread's garbage collection pauses), its clients (the runner), PostgreSQL ('-': not on this machine, then in the rest) and the rest of the machine; the floor's PostgreSQL share beside it; floor/atrium is the rate ratio the CPU allows where it bounds both\n",
    );
    console.log(
      table(
        ['shape', 'clients', 'atrium', 'server', 'of it GC', 'clients', 'postgres', 'rest', 'floor', 'floor postgres', 'floor/atrium'],
        cpuRows.map((r) => [
          r.shape,
          String(r.clients),
          ms(r.atrium.cpu!.machineMs),
          ms(r.atrium.cpu!.serverMs),
          ms(r.atrium.cpu!.serverGcMs),
          ms(r.atrium.cpu!.runnerMs),
          ms(r.atrium.cpu!.postgresMs),
          ms(r.atrium.cpu!.restMs),
          ms(r.sqlFloor.cpu!.machineMs),
          ms(r.sqlFloor.cpu!.postgresMs),
          ms(r.ratio.cpuBound),
        ]),
      ),
    );
  }
  console.log(`\nSQL statements per checkout (data + transaction + RLS session, round trips): atrium ${statements!.data} + ${statements!.transaction} + ${statements!.session}, ${statements!.roundTrips}; floor 3 + 2 + 0, 5`);
  console.log('\nCheckout latency against history (one client, hot product)\n');
  console.log(
    table(
      ['historical sales', 'atrium p50 ms', 'atrium p99 ms', 'floor p50 ms', 'floor p99 ms'],
      historyRows.map((r) => [String(r.sales), r.atrium.p50Ms.toFixed(2), r.atrium.p99Ms.toFixed(2), r.sqlFloor.p50Ms.toFixed(2), r.sqlFloor.p99Ms.toFixed(2)]),
    ),
  );
  console.log(`\nwritten ${file} (${((Date.now() - began) / 1000).toFixed(0)} s)`);
  clearTimeout(deadline);
}

await main();

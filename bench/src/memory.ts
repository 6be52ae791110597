/**
 * Scenario 6, memory: the resident memory a server needs per idle authenticated subscriber. Each
 * server runs in a child process on core 1 (with --expose-gc), the sockets are opened and held by a
 * load-generator process (memory-load.ts) on core 0; servers are interleaved over rounds, a fresh
 * server process per measurement. Atrium (kernel only, a `notificationCreated` subscription per
 * socket, authenticated) against bare mercurius (a trivial subscription, no auth) and a raw `ws`
 * server that only holds the sockets.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { ChildProcess } from 'node:child_process';
import type { LoadMessage, SocketJob } from './memory-load.ts';
import { benchDir, canPin, isQuick, median, pinSelf, spawnNode, stop, table, writeResult } from './proc.ts';
import { startServer, until } from './subscriber-server.ts';

const SUBSCRIBERS = isQuick ? 200 : 5000;
const ROUNDS = isQuick ? 1 : 3;
/** Sockets opened and closed before the idle measurement, so that lazily loaded code is in both. */
const WARMUP_SOCKETS = isQuick ? 20 : 50;
/** Quiet time before each measurement. */
const SETTLE_MS = isQuick ? 500 : 3000;
const CONCURRENCY = 50;
const PER_ADDRESS = 500;
/** The whole scenario; a hang must fail CI rather than stall it. */
const DEADLINE_MS = isQuick ? 90_000 : 20 * 60_000;

interface Peer {
  name: string;
  file: string;
  protocol: SocketJob['protocol'];
  query?: string;
  authenticated?: boolean;
}

const PEERS: Peer[] = [
  { name: 'atrium', file: 'atrium-subscribers.ts', protocol: 'graphql-ws', query: 'subscription { notificationCreated { id title } }', authenticated: true },
  { name: 'mercurius', file: 'mercurius-subscribers.ts', protocol: 'graphql-ws', query: 'subscription { tick }' },
  { name: 'ws', file: 'ws-sockets.ts', protocol: 'ws' },
];

interface Measurement {
  idleRss: number;
  loadedRss: number;
  idleHeap: number;
  loadedHeap: number;
  rssPerSubscriber: number;
  heapPerSubscriber: number;
  openMs: number;
}

/** A load-generator process holding `job.count` sockets; resolves once all are open. */
function openSockets(job: Omit<SocketJob, 'concurrency' | 'perAddress'>): Promise<{ child: ChildProcess; ms: number; failure: () => string | undefined }> {
  const full: SocketJob = { ...job, concurrency: CONCURRENCY, perAddress: PER_ADDRESS };
  const child = spawnNode(['--conditions=development', `${benchDir}/src/memory-load.ts`], { ipc: true, core: 0, env: { BENCH_SOCKETS: JSON.stringify(full) } });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  let failure: string | undefined;
  child.on('message', (message: LoadMessage) => {
    if (message.type === 'failed') failure ??= message.message;
  });
  child.once('exit', (code) => {
    failure ??= `load generator exited (${code}):\n${stderr}`;
  });
  const timeout = 30_000 + job.count * 20;
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (error?: Error, ms = 0) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) void stop(child).then(() => reject(error));
      else resolve({ child, ms, failure: () => failure });
    };
    const timer = setTimeout(() => settle(new Error(`${job.count} sockets not open after ${timeout} ms`)), timeout);
    // Failures after the opening are kept in `failure`, for the runner to check when it measures.
    child.on('message', (message: LoadMessage) => settle(message.type === 'failed' ? new Error(`load generator: ${message.message}`) : undefined, message.type === 'opened' ? message.ms : 0));
    child.once('exit', (code) => settle(new Error(`load generator exited (${code}) before opening its sockets:\n${stderr}`)));
  });
}

async function post(url: string, query: string): Promise<{ data?: Record<string, any>; errors?: unknown }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  return (await response.json()) as { data?: Record<string, any>; errors?: unknown };
}

/** Signs up a company on the Atrium server and answers its owner's access token. */
async function signUp(url: string, round: number): Promise<string> {
  const email = `bench-memory-${round}-${Date.now()}@example.com`;
  const answer = await post(
    url,
    `mutation { signUp(input: { companyName: "Bench ${round}", email: "${email}", password: "bench-password-123", displayName: "Bench" }) { accessToken } }`,
  );
  if (!answer.data) throw new Error(`signUp failed: ${JSON.stringify(answer.errors)}`);
  return answer.data.signUp.accessToken as string;
}

/** A socket without a token must be refused (4401): the authenticated path is really the one measured. */
function expectRefused(url: string, query: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const client = createClient({
      url,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      on: {
        closed: (event) => {
          const { code } = event as { code: number };
          if (code === 4401) resolve();
          else reject(new Error(`atrium: a socket without a token was closed with ${code}, not 4401`));
        },
      },
    });
    client.subscribe({ query }, { next: () => reject(new Error('atrium: a socket without a token got an event')), error: () => {}, complete: () => {} });
  });
}

async function measure(peer: Peer, round: number, env: NodeJS.ProcessEnv): Promise<Measurement> {
  const server = await startServer(peer.name, peer.file, { env });
  const loads: ChildProcess[] = [];
  try {
    const url = `ws://127.0.0.1:${server.port}${peer.protocol === 'ws' ? '/' : '/graphql'}`;
    let token: string | undefined;
    if (peer.authenticated) {
      await expectRefused(url, peer.query!);
      token = await signUp(`http://127.0.0.1:${server.port}/graphql`, round);
    }
    const job = { url, protocol: peer.protocol, query: peer.query, token };

    // Warm-up: a few sockets opened, subscribed and closed again.
    const warmup = await openSockets({ ...job, count: WARMUP_SOCKETS });
    loads.push(warmup.child);
    await until(server, `${peer.name} warm-up`, (s) => s.subscriptions >= WARMUP_SOCKETS && s.sockets === WARMUP_SOCKETS);
    await stop(warmup.child);
    await until(server, `${peer.name} warm-up close`, (s) => s.sockets === 0);
    await sleep(SETTLE_MS);
    const idle = await server.stats(true);
    if (!idle.collected) throw new Error(`${peer.name}: no --expose-gc in the server`);

    const load = await openSockets({ ...job, count: SUBSCRIBERS });
    loads.push(load.child);
    await until(server, `${peer.name} subscriptions`, (s) => s.subscriptions >= WARMUP_SOCKETS + SUBSCRIBERS && s.sockets === SUBSCRIBERS);
    await sleep(SETTLE_MS);
    const loaded = await server.stats(true);
    const failure = load.failure();
    if (failure) throw new Error(`${peer.name}: ${failure}`);
    if (loaded.sockets !== SUBSCRIBERS) throw new Error(`${peer.name}: ${loaded.sockets} of ${SUBSCRIBERS} sockets still open`);
    return {
      idleRss: idle.memory.rss,
      loadedRss: loaded.memory.rss,
      idleHeap: idle.memory.heapUsed,
      loadedHeap: loaded.memory.heapUsed,
      rssPerSubscriber: (loaded.memory.rss - idle.memory.rss) / SUBSCRIBERS,
      heapPerSubscriber: (loaded.memory.heapUsed - idle.memory.heapUsed) / SUBSCRIBERS,
      openMs: load.ms,
    };
  } finally {
    await Promise.all(loads.map(stop));
    await stop(server.child);
  }
}

const MiB = 1024 * 1024;

async function main(): Promise<void> {
  pinSelf();
  const deadline = setTimeout(() => {
    console.error(`memory: not done after ${DEADLINE_MS / 1000} s`);
    process.exit(1);
  }, DEADLINE_MS);
  deadline.unref();

  const dataDir = mkdtempSync(`${tmpdir()}/atrium-memory-`);
  // On PostgreSQL, a schema of its own (dropped at the end) rather than the database's own tables.
  const database = process.env.DATABASE_URL ? await (await import('@atrium/core/testing')).createTestDatabase([], process.env.DATABASE_URL) : undefined;
  const databaseUrl = database?.target.driver === 'postgresql' ? database.target.url : '';
  const env = { NODE_ENV: 'production', ATRIUM_DATA_DIR: dataDir, DATABASE_URL: databaseUrl };
  const results = new Map<string, Measurement[]>(PEERS.map((peer) => [peer.name, []]));
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const peer of PEERS) {
        const m = await measure(peer, round, env);
        results.get(peer.name)!.push(m);
        console.log(
          `round ${round}/${ROUNDS}  ${peer.name.padEnd(9)} idle ${(m.idleRss / MiB).toFixed(1)} MiB, ${SUBSCRIBERS} subscribers ${(m.loadedRss / MiB).toFixed(1)} MiB: ${m.rssPerSubscriber.toFixed(0)} B/subscriber (heap ${m.heapPerSubscriber.toFixed(0)} B); opened in ${(m.openMs / 1000).toFixed(1)} s`,
        );
      }
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    await database?.drop();
  }

  const summary = PEERS.map((peer) => {
    const rounds = results.get(peer.name)!;
    return {
      name: peer.name,
      idleRssBytes: median(rounds.map((m) => m.idleRss)),
      loadedRssBytes: median(rounds.map((m) => m.loadedRss)),
      rssBytesPerSubscriber: median(rounds.map((m) => m.rssPerSubscriber)),
      heapBytesPerSubscriber: median(rounds.map((m) => m.heapPerSubscriber)),
      rounds,
    };
  });
  const atrium = summary[0]!;
  const ratios = Object.fromEntries(
    summary.slice(1).map((peer) => [peer.name, { rssPerSubscriber: atrium.rssBytesPerSubscriber / peer.rssBytesPerSubscriber, heapPerSubscriber: atrium.heapBytesPerSubscriber / peer.heapBytesPerSubscriber }]),
  );
  const result = {
    database: databaseUrl ? 'postgresql' : 'pglite',
    subscribers: SUBSCRIBERS,
    rounds: ROUNDS,
    settleMs: SETTLE_MS,
    warmupSockets: WARMUP_SOCKETS,
    servers: summary,
    atriumRatios: ratios,
  };
  const file = writeResult('memory', result);
  console.log(
    `\nMemory with ${SUBSCRIBERS} idle subscribers (${isQuick ? 'quick' : 'full'}: median of ${ROUNDS}, RSS after a full GC, Atrium on ${result.database}${canPin ? ', pinned' : ''})\n`,
  );
  console.log(
    table(
      ['server', 'idle RSS MiB', `RSS with ${SUBSCRIBERS} MiB`, 'B/subscriber (RSS)', 'B/subscriber (heap)', 'atrium/peer (RSS)', 'atrium/peer (heap)'],
      summary.map((s) => [
        s.name,
        (s.idleRssBytes / MiB).toFixed(1),
        (s.loadedRssBytes / MiB).toFixed(1),
        s.rssBytesPerSubscriber.toFixed(0),
        s.heapBytesPerSubscriber.toFixed(0),
        s === atrium ? '-' : ratios[s.name]!.rssPerSubscriber.toFixed(2),
        s === atrium ? '-' : ratios[s.name]!.heapPerSubscriber.toFixed(2),
      ]),
    ),
  );
  console.log(`\nwritten ${file}`);
  clearTimeout(deadline);
}

await main();

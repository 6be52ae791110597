/**
 * Scenario 2, nested CRM list: a page of 50 contacts with owner, labels and last activity, as a
 * MEMBER allowed to read one branch's contacts, on PostgreSQL. Atrium (kernel + CRM module) against a
 * hand-written Fastify + pg route (the floor) and Apollo Server + DataLoader + pg. Each server runs in
 * a child process on core 1, autocannon in this process on core 0, peers interleaved over rounds. The
 * SQL statements per request are counted in each server (a hook on `pg`, see servers/sql-count.ts).
 */
import { mkdirSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import type { ChildProcess } from 'node:child_process';
import { contactsQuery, type ContactsAnswer } from './nested-data.ts';
import { seed, type Seeded } from './nested-seed.ts';
import { benchDir, canPin, isQuick, median, pinSelf, spawnNode, stop, table, writeResult } from './proc.ts';
import { medianCounts, type SqlCountRequest, type SqlCounts, type SqlCountsMessage } from './servers/sql-count.ts';

interface Peer {
  name: string;
  file: string;
  /** GraphQL over POST /graphql, or the plain JSON route `GET /contacts?first=N`. */
  kind: 'graphql' | 'json';
}

const PEERS: Peer[] = [
  { name: 'atrium', file: 'atrium-crm.ts', kind: 'graphql' },
  { name: 'sql-route', file: 'sql-contacts.ts', kind: 'json' },
  { name: 'apollo+dataloader', file: 'apollo-contacts.ts', kind: 'graphql' },
];

const PAGE = 50;
/** The page sizes the SQL statements are counted at: the count must not depend on it. */
const COUNTED_PAGES = [10, PAGE];
/** Requests counted one by one per page size; the median is reported. */
const COUNTED_REQUESTS = isQuick ? 3 : 10;
const ROUNDS = isQuick ? 2 : 5;
const DURATION = isQuick ? 2 : 10;
const WARMUP = isQuick ? 1 : 3;
// Every server has a pool of 10 connections: 50 clients keep it busy without pipelining.
const CONNECTIONS = 50;
const SEED = { contacts: 300, otherContacts: 60, concurrency: 6 };
const DEADLINE_MS = isQuick ? 90_000 : 15 * 60_000;
const DATABASE = 'atrium_bench_nested';
/** `--cpu-prof`: the Atrium server writes a CPU profile to bench/results/profiles when it stops. */
const PROFILE = process.argv.includes('--cpu-prof');

interface Server extends Peer {
  child: ChildProcess;
  base: string;
  rps: number[];
  p99: number[];
  /** Median statements per request by kind, per counted page size. */
  statements: Record<number, SqlCounts>;
  /** The statements of one request of the largest counted page, for the record. */
  sample: string[];
}

function start(peer: Peer, databaseUrl: string): Promise<Server> {
  const profile = PROFILE && peer.name === 'atrium' ? ['--cpu-prof', `--cpu-prof-dir=${benchDir}/results/profiles`] : [];
  if (profile.length) mkdirSync(`${benchDir}/results/profiles`, { recursive: true });
  const child = spawnNode([...profile, '--conditions=development', `${benchDir}/src/servers/${peer.file}`], {
    ipc: true,
    env: { NODE_ENV: 'production', DATABASE_URL: databaseUrl },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${peer.name} exited (${code}) before listening:\n${stderr}`));
    child.once('exit', onExit);
    child.once('message', (message: { port: number }) => {
      child.off('exit', onExit);
      resolve({ ...peer, child, base: `http://127.0.0.1:${message.port}`, rps: [], p99: [], statements: {}, sample: [] });
    });
  });
}

/** The request a peer answers for a page of `first` contacts. */
function request(server: Server, first: number, token: string): { url: string; method: 'GET' | 'POST'; headers: Record<string, string>; body?: string } {
  const authorization = `Bearer ${token}`;
  return server.kind === 'json'
    ? { url: `${server.base}/contacts?first=${first}`, method: 'GET', headers: { authorization } }
    : { url: `${server.base}/graphql`, method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify({ query: contactsQuery(first) }) };
}

async function ask(server: Server, first: number, token: string): Promise<ContactsAnswer> {
  const { url, ...init } = request(server, first, token);
  return (await (await fetch(url, init)).json()) as ContactsAnswer;
}

/** Sends a counting request to a server and waits for its counts. */
function sqlCounts(server: Server, action: SqlCountRequest['action']): Promise<SqlCountsMessage> {
  return new Promise((resolve) => {
    const onMessage = (message: SqlCountsMessage) => {
      if (message?.type !== 'sql') return;
      server.child.off('message', onMessage);
      resolve(message);
    };
    server.child.on('message', onMessage);
    server.child.send({ type: 'sql', action } satisfies SqlCountRequest);
  });
}

/** Statements per request: each request alone, its statements read right after; medians by kind. */
async function countStatements(server: Server, first: number, token: string): Promise<SqlCounts> {
  await sqlCounts(server, 'begin');
  const counted: SqlCountsMessage[] = [];
  try {
    for (let i = 0; i < COUNTED_REQUESTS; i++) {
      await ask(server, first, token);
      counted.push(await sqlCounts(server, 'read'));
    }
  } finally {
    await sqlCounts(server, 'end');
  }
  server.sample = counted.at(-1)!.statements;
  return medianCounts(counted);
}

/**
 * What the MEMBER must see, read straight from the database: live contacts of the company in the
 * MEMBER's branch, by name then id.
 */
async function expectedIds(admin: pg.Client, seeded: Seeded, first: number): Promise<{ ids: string[]; total: number }> {
  const visible = 'from crm_contact where company_id = $1 and branch_id = $2 and deleted_at is null';
  const page = await admin.query<{ id: string }>(`select id ${visible} order by name, id limit $3`, [seeded.companyId, seeded.memberBranchId, first]);
  const [count] = (await admin.query<{ total: number }>(`select count(*)::int as total ${visible}`, [seeded.companyId, seeded.memberBranchId])).rows;
  return { ids: page.rows.map((row) => row.id), total: count!.total };
}

/** Every server must give the same answer, and it must be the expected one. */
async function verify(servers: Server[], admin: pg.Client, seeded: Seeded): Promise<number> {
  let visible = 0;
  for (const first of COUNTED_PAGES) {
    const expected = await expectedIds(admin, seeded, first);
    visible = expected.total;
    if (expected.total < first || expected.total >= seeded.liveContacts) throw new Error(`seeding: the MEMBER sees ${expected.total} of ${seeded.liveContacts} contacts`);
    const reference = await ask(servers[0]!, first, seeded.memberToken);
    const contacts = reference.data?.contacts;
    if (!contacts || reference.errors) throw new Error(`${servers[0]!.name} answered with errors: ${JSON.stringify(reference).slice(0, 500)}`);
    const ids = contacts.edges.map((edge) => edge.node.id);
    if (!isDeepStrictEqual(ids, expected.ids) || contacts.totalCount !== expected.total || !contacts.pageInfo.hasNextPage) {
      throw new Error(`${servers[0]!.name} listed the wrong contacts (first: ${first}): ${JSON.stringify(contacts).slice(0, 500)}`);
    }
    const withOwner = contacts.edges.filter((edge) => edge.node.owner).length;
    const withActivity = contacts.edges.filter((edge) => edge.node.lastActivityAt).length;
    if (!withOwner || !withActivity) throw new Error(`seeding: no owner (${withOwner}) or no activity (${withActivity}) on the page`);
    for (const server of servers.slice(1)) {
      const answer = await ask(server, first, seeded.memberToken);
      if (!isDeepStrictEqual(answer, reference)) {
        throw new Error(`${server.name} answered differently from ${servers[0]!.name} (first: ${first}):\n${JSON.stringify(answer).slice(0, 500)}\nvs\n${JSON.stringify(reference).slice(0, 500)}`);
      }
    }
  }
  return visible;
}

function load(server: Server, token: string, duration: number): Promise<autocannon.Result> {
  return autocannon({
    ...request(server, PAGE, token),
    connections: CONNECTIONS,
    duration,
    // A GraphQL error answers 200: check every body (a cheap search, not a parse).
    verifyBody: (body) => body !== undefined && !body.includes('"errors"'),
  });
}

async function main(): Promise<void> {
  pinSelf();
  const deadline = setTimeout(() => {
    console.error(`nested-list: not done after ${DEADLINE_MS / 1000} s`);
    process.exit(1);
  }, DEADLINE_MS);
  deadline.unref();

  // A database of its own on the PostgreSQL server of DATABASE_URL (default: the development one).
  const serverUrl = new URL(process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres');
  const databaseUrl = new URL(serverUrl);
  databaseUrl.pathname = `/${DATABASE}`;
  databaseUrl.search = '';
  const admin = new pg.Client({ connectionString: serverUrl.toString() });
  await admin.connect();
  // Left over by an interrupted run.
  await admin.query(`drop database if exists ${DATABASE} with (force)`);
  await admin.query(`create database ${DATABASE}`);
  const data = new pg.Client({ connectionString: databaseUrl.toString() });
  const servers: Server[] = [];
  let liveContacts = 0;
  let memberSees = 0;
  try {
    const started = Date.now();
    // Atrium first: it migrates the database the others read.
    servers.push(await start(PEERS[0]!, databaseUrl.toString()));
    const seeded = await seed(`${servers[0]!.base}/graphql`, SEED);
    console.log(`seeded ${SEED.contacts} + ${SEED.otherContacts} contacts through Atrium in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    servers.push(...(await Promise.all(PEERS.slice(1).map((peer) => start(peer, databaseUrl.toString())))));
    await data.connect();
    liveContacts = seeded.liveContacts;
    memberSees = await verify(servers, data, seeded);
    console.log(`the MEMBER sees ${memberSees} of the company's ${liveContacts} live contacts; all ${servers.length} servers list the same contacts for the MEMBER`);

    for (const server of servers) {
      for (const first of COUNTED_PAGES) server.statements[first] = await countStatements(server, first, seeded.memberToken);
      const [small, large] = COUNTED_PAGES.map((first) => server.statements[first]!);
      if (!small!.data) throw new Error(`${server.name}: no SQL statement counted (is the pg hook on the server's pg?)`);
      console.log(`${server.name.padEnd(18)} SQL per request (first: ${COUNTED_PAGES.join(' / ')}): data ${small!.data} / ${large!.data}, transaction ${small!.transaction} / ${large!.transaction}, RLS session ${small!.session} / ${large!.session}, round trips ${small!.roundTrips} / ${large!.roundTrips}`);
    }

    console.log(`warming up ${WARMUP} s each`);
    for (const server of servers) await load(server, seeded.memberToken, WARMUP);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const server of servers) {
        const result = await load(server, seeded.memberToken, DURATION);
        if (result.non2xx || result.mismatches || result.errors || result.timeouts) {
          throw new Error(`${server.name}: ${result.non2xx} non-2xx, ${result.mismatches} answers with errors, ${result.errors} socket errors, ${result.timeouts} timeouts`);
        }
        server.rps.push(result.requests.average);
        server.p99.push(result.latency.p99);
        console.log(`round ${round}/${ROUNDS}  ${server.name.padEnd(18)} ${result.requests.average.toFixed(0).padStart(6)} req/s  p99 ${result.latency.p99} ms`);
      }
    }
    // Still right after the load.
    await verify(servers, data, seeded);
  } finally {
    await Promise.all(servers.map((server) => stop(server.child)));
    await data.end().catch(() => {});
    await admin.query(`drop database if exists ${DATABASE} with (force)`);
    await admin.end();
  }

  const summary = servers.map((server) => ({
    name: server.name,
    rps: median(server.rps),
    p99Ms: median(server.p99),
    statementsPerRequest: server.statements,
    statementsOfOneRequest: server.sample,
    rounds: { rps: server.rps, p99Ms: server.p99 },
  }));
  const atrium = summary[0]!;
  const ratios = Object.fromEntries(summary.slice(1).map((peer) => [peer.name, { rps: atrium.rps / peer.rps, p99: atrium.p99Ms / peer.p99Ms }]));
  const result = {
    postgres: (await pgVersion(serverUrl)) ?? 'unknown',
    data: { ...SEED, liveContacts, memberSees },
    load: { connections: CONNECTIONS, pipelining: 1, rounds: ROUNDS, durationSeconds: DURATION, warmupSeconds: WARMUP, page: PAGE },
    query: contactsQuery(PAGE),
    servers: summary,
    atriumRatios: ratios,
  };
  const file = writeResult('nested-list', result);
  console.log(`\nNested CRM list (${isQuick ? 'quick' : 'full'}: ${ROUNDS} rounds × ${DURATION} s, ${CONNECTIONS} connections, first: ${PAGE}${canPin ? ', pinned' : ''})\n`);
  console.log(
    table(
      ['server', 'req/s', 'p99 ms', 'atrium/peer req/s', 'atrium/peer p99', ...COUNTED_PAGES.map((first) => `SQL/req first:${first} (data+tx+rls, round trips)`)],
      summary.map((s) => [
        s.name,
        s.rps.toFixed(0),
        s.p99Ms.toFixed(1),
        s === atrium ? '-' : ratios[s.name]!.rps.toFixed(2),
        s === atrium ? '-' : ratios[s.name]!.p99.toFixed(2),
        ...COUNTED_PAGES.map((first) => {
          const c = s.statementsPerRequest[first]!;
          return `${c.data}+${c.transaction}+${c.session}, ${c.roundTrips}`;
        }),
      ]),
    ),
  );
  console.log(`\nwritten ${file}`);
  clearTimeout(deadline);
}

async function pgVersion(url: URL): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return (await client.query<{ server_version: string }>('show server_version')).rows[0]?.server_version;
  } finally {
    await client.end();
  }
}

await main();

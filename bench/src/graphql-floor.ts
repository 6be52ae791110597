/**
 * Scenario 1, GraphQL floor: the authors/books query against Atrium and its peers, each server in a
 * child process on core 1, autocannon in this process on core 0, peers interleaved over rounds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import autocannon from 'autocannon';
import { expectedAnswer, QUERY } from './data.ts';
import { benchDir, canPin, isQuick, median, pinSelf, spawnNode, stop, table, writeResult } from './proc.ts';
import type { ChildProcess } from 'node:child_process';

interface Peer {
  name: string;
  file: string;
  /** GraphQL over POST /graphql, or the plain JSON route. */
  kind: 'graphql' | 'json';
}

const PEERS: Peer[] = [
  { name: 'atrium', file: 'atrium.ts', kind: 'graphql' },
  { name: 'mercurius+jit', file: 'mercurius.ts', kind: 'graphql' },
  { name: 'apollo-server', file: 'apollo.ts', kind: 'graphql' },
  { name: 'graphql-yoga', file: 'yoga.ts', kind: 'graphql' },
  { name: 'fastify-json', file: 'fastify-json.ts', kind: 'json' },
];

const ROUNDS = isQuick ? 2 : 5;
const DURATION = isQuick ? 2 : 10;
const WARMUP = isQuick ? 0.5 : 3;
const CONNECTIONS = 100;
const PIPELINING = 5;

interface Running extends Peer {
  child: ChildProcess;
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  rps: number[];
  p99: number[];
  timeouts: number[];
}

function start(peer: Peer, dataDir: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawnNode(['--conditions=development', `${benchDir}/src/servers/${peer.file}`], {
    ipc: true,
    env: { NODE_ENV: 'production', ATRIUM_DATA_DIR: dataDir, DATABASE_URL: '' },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.once('message', (message: { port: number }) => resolve({ child, port: message.port }));
    child.once('exit', (code) => reject(new Error(`${peer.name} exited (${code}) before listening:\n${stderr}`)));
  });
}

async function post(url: string, query: string, headers: Record<string, string> = {}): Promise<unknown> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query }) });
  return response.json();
}

/** Signs up one company on the Atrium server and answers its Bearer token. */
async function signUp(url: string): Promise<string> {
  const answer = (await post(
    url,
    `mutation { signUp(input: { companyName: "Bench Inc", email: "bench@example.com", password: "bench-password-123", displayName: "Bench" }) { accessToken } }`,
  )) as { data?: { signUp: { accessToken: string } }; errors?: unknown };
  if (!answer.data) throw new Error(`signUp failed: ${JSON.stringify(answer.errors)}`);
  return answer.data.signUp.accessToken;
}

function load(server: Running, duration: number): Promise<autocannon.Result> {
  return autocannon({
    url: server.url,
    method: server.method,
    headers: server.headers,
    body: server.body,
    connections: CONNECTIONS,
    pipelining: PIPELINING,
    duration,
  });
}

async function main(): Promise<void> {
  pinSelf();
  const dataDir = mkdtempSync(`${tmpdir()}/atrium-bench-`);
  const running: Running[] = [];
  try {
    // Start all at once: each settles on core 1 before any load.
    const started = await Promise.all(PEERS.map((peer) => start(peer, dataDir)));
    const expected = expectedAnswer();
    for (const [i, peer] of PEERS.entries()) {
      const { child, port } = started[i]!;
      const base = `http://127.0.0.1:${port}`;
      const server: Running = {
        ...peer,
        child,
        url: peer.kind === 'json' ? `${base}/authors` : `${base}/graphql`,
        method: peer.kind === 'json' ? 'GET' : 'POST',
        headers: peer.kind === 'json' ? {} : { 'content-type': 'application/json' },
        body: peer.kind === 'json' ? undefined : JSON.stringify({ query: QUERY }),
        rps: [],
        p99: [],
        timeouts: [],
      };
      running.push(server);
      if (peer.name === 'atrium') {
        // Without a token the field is refused: check the gate is really on the path.
        const refused = (await post(server.url, QUERY)) as { errors?: { extensions?: { code?: string } }[] };
        if (refused.errors?.[0]?.extensions?.code !== 'UNAUTHENTICATED') throw new Error(`atrium answered without a token: ${JSON.stringify(refused)}`);
        server.headers.authorization = `Bearer ${await signUp(server.url)}`;
      }
      const answer = await (await fetch(server.url, { method: server.method, headers: server.headers, body: server.body })).json();
      if (!isDeepStrictEqual(answer, expected)) throw new Error(`${peer.name} answered wrongly: ${JSON.stringify(answer).slice(0, 500)}`);
    }
    console.log(`all ${running.length} servers answer correctly; warming up ${WARMUP} s each`);
    for (const server of running) await load(server, WARMUP);

    for (let round = 1; round <= ROUNDS; round++) {
      for (const server of running) {
        const result = await load(server, DURATION);
        // A non-2xx answer means a broken server; timeouts (10 s) are a result and are counted.
        if (result.non2xx) throw new Error(`${server.name}: ${result.non2xx} non-2xx answers`);
        server.timeouts.push(result.timeouts);
        server.rps.push(result.requests.average);
        server.p99.push(result.latency.p99);
        console.log(`round ${round}/${ROUNDS}  ${server.name.padEnd(14)} ${result.requests.average.toFixed(0).padStart(7)} req/s  p99 ${result.latency.p99} ms${result.timeouts ? `  ${result.timeouts} timeouts` : ''}`);
      }
    }
  } finally {
    await Promise.all(running.map((server) => stop(server.child)));
    rmSync(dataDir, { recursive: true, force: true });
  }

  const summary = running.map((server) => ({ name: server.name, rps: median(server.rps), p99Ms: median(server.p99), rounds: { rps: server.rps, p99Ms: server.p99, timeouts: server.timeouts } }));
  const atrium = summary[0]!;
  const ratios = Object.fromEntries(summary.slice(1).map((peer) => [peer.name, { rps: atrium.rps / peer.rps, p99: atrium.p99Ms / peer.p99Ms }]));
  const result = {
    load: { connections: CONNECTIONS, pipelining: PIPELINING, rounds: ROUNDS, durationSeconds: DURATION, warmupSeconds: WARMUP },
    query: QUERY,
    servers: summary,
    atriumRatios: ratios,
  };
  const file = writeResult('graphql-floor', result);
  console.log(`\nGraphQL floor (${isQuick ? 'quick' : 'full'}: ${ROUNDS} rounds × ${DURATION} s, ${CONNECTIONS} connections, pipelining ${PIPELINING}${canPin ? ', pinned' : ''})\n`);
  console.log(
    table(
      ['server', 'req/s', 'p99 ms', 'atrium/peer req/s', 'atrium/peer p99'],
      summary.map((s) => [s.name, s.rps.toFixed(0), s.p99Ms.toFixed(1), s === atrium ? '-' : ratios[s.name]!.rps.toFixed(2), s === atrium ? '-' : ratios[s.name]!.p99.toFixed(2)]),
    ),
  );
  console.log(`\nwritten ${file}`);
}

await main();

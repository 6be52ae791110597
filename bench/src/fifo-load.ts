/**
 * Scenario 4's two load generators, both closed loops of `clients` concurrent clients selling the
 * carts of a `RunPlan` (client i sells `plan.carts[i]` in order): GraphQL `checkoutAgentCart` calls to
 * the Atrium server (fetch, keep-alive, from this process), and pgbench running the plain-SQL floor
 * (`bench/sql/fifo-checkout.sql`, one PostgreSQL connection per client).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { benchDir, canPin } from './proc.ts';
import type { Fixture, RunPlan } from './fifo-seed.ts';

export interface LoadResult {
  /** Checkouts answered (sold or refused), over the load's wall time (pgbench: without connecting). */
  elapsedMs: number;
  /** Latency of every checkout, ms. */
  latencies: number[];
  /** Checkouts refused for stock (Atrium: INSUFFICIENT_STOCK answers; pgbench: rolled back, from the database). */
  refused: number;
}

export const CHECKOUT = /* GraphQL */ `mutation ($input: CheckoutAgentCartInput!) {
  checkoutAgentCart(input: $input) { id total allocations { quantity transferLine { id } } }
}`;

interface CheckoutAnswer {
  data?: { checkoutAgentCart: { id: string; allocations: { quantity: number }[] } } | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** A JSON POST over the agent's keep-alive connections: its status and parsed answer. */
function postJson(agent: http.Agent, url: string, headers: Record<string, string>, body: string): Promise<{ status: number; answer: unknown }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: 'POST', agent, headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        try {
          resolve({ status: response.statusCode ?? 0, answer: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        } catch (error) {
          reject(error);
        }
      });
    });
    request.on('error', reject);
    request.end(body);
  });
}

/**
 * Atrium: each client posts its carts' checkouts one after another, as its agent (hot: all clients
 * are agent 0, several devices of one agent; spread: client i is agent i), on a keep-alive
 * connection of its own through Node's http client (a fraction of `fetch`'s cost per request: the
 * floor's client is pgbench, in C). Any answer but a sale allocating the cart's units or
 * INSUFFICIENT_STOCK fails the run.
 */
export async function atriumLoad(url: string, fixture: Fixture, plan: RunPlan, units: number): Promise<LoadResult> {
  const latencies: number[] = [];
  let refused = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: plan.carts.length });
  const client = async (index: number) => {
    const token = fixture.agents[plan.shape === 'hot' ? 0 : index]!.token;
    for (const cartId of plan.carts[index]!) {
      const began = performance.now();
      const body = JSON.stringify({ query: CHECKOUT, variables: { input: { cartId, idempotencyKey: `bench-${cartId}` } } });
      const { status, answer: parsed } = await postJson(agent, url, { authorization: `Bearer ${token}` }, body);
      const answer = parsed as CheckoutAnswer;
      latencies.push(performance.now() - began);
      const sale = answer.data?.checkoutAgentCart;
      if (sale && !answer.errors && sale.allocations.reduce((sum, a) => sum + a.quantity, 0) === units) continue;
      if (answer.errors?.length === 1 && answer.errors[0]!.extensions?.code === 'INSUFFICIENT_STOCK') {
        refused += 1;
        continue;
      }
      throw new Error(`atrium: checkout of cart ${cartId} answered ${status} ${JSON.stringify(answer).slice(0, 500)}`);
    }
  };
  const began = performance.now();
  try {
    await Promise.all(plan.carts.map((_, index) => client(index)));
  } finally {
    agent.destroy();
  }
  return { elapsedMs: performance.now() - began, latencies, refused };
}

export const FLOOR_SCRIPT = `${benchDir}/sql/fifo-checkout.sql`;

/**
 * The floor: `pgbench -M prepared -c <clients> -j 1 -t <carts per client>` with the floor script, on
 * core 0 with the runner when pinning. Latencies come from its per-transaction log (`-l`), the wall
 * time from its `tps` without connection time. `refused` is left to the caller (the database knows).
 */
export async function floorLoad(databaseUrl: URL, plan: RunPlan): Promise<LoadResult> {
  const perClient = plan.carts[0]!.length;
  const logDir = mkdtempSync(`${tmpdir()}/atrium-bench-fifo-`);
  const args = [
    '-n',
    '-M', 'prepared',
    '-c', String(plan.clients),
    '-j', '1',
    '-t', String(perClient),
    '-D', 'k=0',
    '-f', FLOOR_SCRIPT,
    '-l', `--log-prefix=${logDir}/tx`,
    '-h', databaseUrl.hostname,
    '-p', databaseUrl.port || '5432',
    '-U', decodeURIComponent(databaseUrl.username || 'postgres'),
    databaseUrl.pathname.slice(1),
  ];
  try {
    const child = spawn(canPin ? 'taskset' : 'pgbench', canPin ? ['-c', '0', 'pgbench', ...args] : args, {
      env: { ...process.env, ...(databaseUrl.password ? { PGPASSWORD: decodeURIComponent(databaseUrl.password) } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', resolve);
    });
    const processed = /number of transactions actually processed: (\d+)\/(\d+)/.exec(output);
    const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(output);
    if (code !== 0 || !processed || processed[1] !== processed[2] || !tps) throw new Error(`pgbench failed (exit ${code}):\n${output}`);
    const transactions = Number(processed[1]);
    // Log lines: client_id transaction_no latency_us script_no epoch epoch_us.
    const latencies = readdirSync(logDir).flatMap((file) =>
      readFileSync(`${logDir}/${file}`, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => Number(line.split(' ')[2]) / 1000),
    );
    if (latencies.length !== transactions) throw new Error(`pgbench logged ${latencies.length} transactions of ${transactions}`);
    return { elapsedMs: (transactions / Number(tps[1])) * 1000, latencies, refused: 0 };
  } finally {
    rmSync(logDir, { recursive: true, force: true });
  }
}

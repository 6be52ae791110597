/**
 * Scenario 5, cold start: process spawn to the first successful GraphQL answer, for the quickstart
 * app (every module, embedded PGlite, fresh data directory, then a second start on the same one) vs
 * bare fastify + mercurius.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { benchDir, canPin, isQuick, median, pinSelf, spawnNode, stop, table, writeResult } from './proc.ts';

const RUNS = isQuick ? 2 : 5;
const QUICKSTART = `${benchDir}/../examples/quickstart/src/main.ts`;
const PEER = `${benchDir}/src/servers/empty-mercurius.ts`;

/** Spawns the server, reads its port from "Server listening at …", polls until `{ __typename }` answers. */
async function coldStart(file: string, dataDir: string): Promise<number> {
  const began = performance.now();
  const child = spawnNode(['--conditions=development', file], {
    env: { ATRIUM_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', DATABASE_URL: '', NODE_ENV: 'development', LOG_LEVEL: 'info' },
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let output = '';
      const read = (chunk: Buffer) => {
        output += chunk.toString();
        const match = /Server listening at (http:\/\/[^\s"]+)/.exec(output);
        if (match) resolve(match[1]!);
      };
      child.stdout?.on('data', read);
      child.stderr?.on('data', read);
      child.once('exit', (code) => reject(new Error(`${file} exited (${code}) before listening:\n${output}`)));
    });
    for (;;) {
      try {
        const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
        const answer = (await response.json()) as { data?: { __typename?: string } };
        if (answer.data?.__typename === 'Query') return performance.now() - began;
      } catch {
        // not ready yet
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    await stop(child);
  }
}

async function main(): Promise<void> {
  pinSelf();
  const fresh: number[] = [];
  const reopen: number[] = [];
  const peer: number[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const dataDir = mkdtempSync(`${tmpdir()}/atrium-cold-`);
    try {
      fresh.push(await coldStart(QUICKSTART, dataDir));
      reopen.push(await coldStart(QUICKSTART, dataDir));
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
    peer.push(await coldStart(PEER, tmpdir()));
    console.log(`run ${run}/${RUNS}  quickstart fresh ${fresh.at(-1)!.toFixed(0)} ms, same data dir ${reopen.at(-1)!.toFixed(0)} ms, mercurius ${peer.at(-1)!.toFixed(0)} ms`);
  }
  const rows = [
    { name: 'atrium quickstart, fresh data dir', runsMs: fresh },
    { name: 'atrium quickstart, second start', runsMs: reopen },
    { name: 'bare fastify + mercurius', runsMs: peer },
  ].map((row) => ({ ...row, medianMs: median(row.runsMs) }));
  const base = rows[2]!.medianMs;
  const result = { runs: RUNS, results: rows };
  const file = writeResult('cold-start', result);
  console.log(`\nCold start, spawn to first GraphQL answer (median of ${RUNS}${canPin ? ', pinned' : ''})\n`);
  console.log(table(['server', 'median ms', '× mercurius'], rows.map((r) => [r.name, r.medianMs.toFixed(0), (r.medianMs / base).toFixed(1)])));
  console.log(`\nwritten ${file}`);
}

await main();

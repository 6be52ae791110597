import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

interface Run {
  url: Promise<string>;
  exit: Promise<{ code: number | null; stderr: string }>;
  kill(signal: NodeJS.Signals): void;
}

/** Runs the quickstart as its own process, on an embedded database in `dataDir`. */
function run(env: Record<string, string>): Run {
  const child = spawn(process.execPath, ['--conditions=development', main], {
    env: { PATH: process.env.PATH, LOG_LEVEL: 'info', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const url = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.once('exit', () => reject(new Error(`exited before listening: ${stderr}`)));
  });
  url.catch(() => {}); // runs that are meant to fail never ask for the URL
  const exit = new Promise<{ code: number | null; stderr: string }>((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
  return { url, exit, kill: (signal) => child.kill(signal) };
}

async function ask(url: string, query: string): Promise<unknown> {
  const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  return response.json();
}

t.test('the quickstart serves GraphQL on the embedded database and stops on SIGTERM', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'atrium-quickstart-'));
  for (const attempt of ['first start', 'restart on the same data']) {
    const app = run({ ATRIUM_DATA_DIR: dataDir });
    const url = await app.url;
    t.match(await ask(url, '{ atrium { version modules { name } } }'), { data: { atrium: { version: /^\d+\.\d+\.\d+/, modules: [{ name: 'crm' }, { name: 'messenger' }, { name: 'agentSales' }] } } }, attempt);
    const ready = await fetch(`${url}/health/ready`);
    t.equal(ready.status, 200);
    app.kill('SIGTERM');
    t.equal((await app.exit).code, 0, 'graceful exit');
  }
});

t.test('a bad configuration value stops start-up with exit code 1, naming the variable', async (t) => {
  const app = run({ PORT: 'eighty' });
  const { code, stderr } = await app.exit;
  t.equal(code, 1);
  t.match(stderr, /Invalid configuration: PORT must be integer \(got "eighty"\)/);

  const db = await run({ DATABASE_URL: 'mysql://localhost/x' }).exit;
  t.equal(db.code, 1);
  t.match(db.stderr, /DATABASE_URL must match pattern/);
});

import t from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase } from '@atrium/core/testing';
import guestbook from '@atrium/example-custom-module';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const demo = fileURLToPath(new URL('../src/demo.ts', import.meta.url));

interface Run {
  url: Promise<string>;
  exit: Promise<{ code: number | null; stdout: string; stderr: string }>;
  kill(signal: NodeJS.Signals): void;
}

/** Runs a script as its own process; `url` resolves when it logs that it listens. */
function run(script: string, args: string[], env: Record<string, string>): Run {
  const child = spawn(process.execPath, ['--conditions=development', script, ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const url = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (match) resolve(match[1]!);
    });
    child.once('exit', () => reject(new Error(`exited before listening: ${stderr}`)));
  });
  url.catch(() => {}); // a run that is not a server never asks for it
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
  return { url, exit, kill: (signal) => child.kill(signal) };
}

if (!process.env.DATABASE_URL) {
  // Two processes cannot share the embedded PGlite database: the example needs PostgreSQL.
  t.comment('scale-out example skipped: set DATABASE_URL (PostgreSQL) to run two instances');
  t.pass('skipped without DATABASE_URL');
} else {
  t.test('a mutation on one instance reaches a subscriber on the other', async (t) => {
    // A schema of its own in the test database, dropped afterwards; both instances migrate it at once.
    const database = await createTestDatabase([guestbook]);
    t.teardown(() => database.drop());
    if (database.target.driver !== 'postgresql') throw new Error('expected PostgreSQL');
    const env = {
      DATABASE_URL: database.target.url,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      ATRIUM_REDIS_PREFIX: `atrium-test:${randomBytes(6).toString('hex')}:`,
      JWT_SECRET: randomBytes(48).toString('base64url'),
      ATRIUM_DATA_DIR: await mkdtemp(join(tmpdir(), 'atrium-scale-out-')),
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
    };
    // One after the other: two instances migrating a brand-new database at the same moment can
    // collide on the kernel's `create table if not exists atrium_migration` (a PostgreSQL race).
    const instances = [run(main, [], env)];
    t.teardown(() => {
      // Left running only when an assertion failed before the graceful stop below.
      for (const instance of instances) instance.kill('SIGKILL');
    });
    const first = await instances[0]!.url;
    instances.push(run(main, [], env));
    const second = await instances[1]!.url;

    const result = await run(demo, [first, second], {}).exit;
    t.equal(result.code, 0, result.stderr);
    const event = /event on (\S+) after ([\d.]+) ms: (.*)/.exec(result.stdout);
    t.ok(event, 'the demo printed the event');
    if (!event) t.comment(result.stdout);
    t.equal(event?.[1], second, 'delivered by the second instance');
    t.match(JSON.parse(event?.[3] ?? '{}'), { guestbookSigned: { author: 'Ada', message: `Hello from ${first} (#` } }, 'the signature made on the first');
    t.comment(`demo: the event reached the second instance ${event?.[2]} ms after the mutation was sent`);
    const [{ n }] = await database.sql<{ n: number }>('select count(*)::int as n from guestbook_entry');
    t.comment(`the demo signed ${n} time(s) before its subscription heard it`);

    for (const instance of instances) instance.kill('SIGTERM');
    for (const instance of instances) t.equal((await instance.exit).code, 0, 'graceful exit, Redis connections closed');
  });
}

t.test('an instance without REDIS_URL or JWT_SECRET refuses to start', async (t) => {
  const { code, stderr } = await run(main, [], { DATABASE_URL: 'postgres://localhost/unused' }).exit;
  t.equal(code, 1);
  t.match(stderr, /Set REDIS_URL, JWT_SECRET/);
});

t.test('an instance that fails to start exits (its Redis connections do not keep it alive)', async (t) => {
  const env = { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/unreachable', REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', JWT_SECRET: randomBytes(48).toString('base64url') };
  const { code, stderr } = await run(main, [], env).exit;
  t.equal(code, 1);
  t.match(stderr, /Atrium failed to start/);
});

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** True when `taskset` exists and the machine has a second core to pin servers to. */
export const canPin = spawnSync('taskset', ['-c', '1', 'true']).status === 0;

/** Pins the current process (the load generator, the runner) to core 0, when possible. */
export function pinSelf(): void {
  if (canPin) spawnSync('taskset', ['-cp', '0', String(process.pid)]);
}

/**
 * Spawns `node <args>` on core 1 (servers) when pinning is possible (silently unpinned otherwise);
 * `core: 0` puts a load generator with the runner.
 */
export function spawnNode(args: string[], options: { env?: NodeJS.ProcessEnv; ipc?: boolean; cwd?: string; core?: 0 | 1 } = {}): ChildProcess {
  const command = canPin ? 'taskset' : process.execPath;
  const argv = canPin ? ['-c', String(options.core ?? 1), process.execPath, ...args] : args;
  return spawn(command, argv, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
}

/** Stops a child and waits for it to exit. */
export function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** CPU time used so far, ms: the whole machine's (busy, not idle or waiting), each given process's, and PostgreSQL's when asked. */
export interface CpuSample {
  machineMs: number;
  processMs: number[];
  /** The local PostgreSQL server's processes, the exited included; null when not asked. */
  postgresMs: number | null;
}

/** Linux's `/proc` counts in USER_HZ ticks, 100 a second on every architecture Node runs on. */
const MS_PER_TICK = 10;

/** The fields of `/proc/<pid>/stat` after the command's name (which may hold spaces), in parentheses: ppid is [1], utime, stime, cutime, cstime [11] to [14]. */
function statFields(pid: number | string): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
}

const ticksMs = (...ticks: string[]): number => ticks.reduce((sum, tick) => sum + Number(tick), 0) * MS_PER_TICK;

/** Whether `/proc` shows a process of that id named `postgres`. */
const isPostgres = (pid: number): boolean => existsSync(`/proc/${pid}/comm`) && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres';

/**
 * The PostgreSQL server a backend belongs to (its postmaster, the backend's parent), when the backend
 * runs on this machine and `/proc` shows it; null otherwise: a remote server, one in a container of
 * its own (its pid names another process here), or no `/proc`.
 */
export function postmasterOf(backendPid: number): number | null {
  if (!isPostgres(backendPid)) return null;
  const parent = Number(statFields(backendPid)[1]);
  return isPostgres(parent) ? parent : null;
}

/**
 * A PostgreSQL server's CPU time so far: the postmaster's own, its live processes' (backends,
 * background workers) and, through the postmaster's cutime and cstime, that of every process of it
 * that has exited (pgbench's backends end with their run). A process reaped while its siblings are
 * read would be counted twice or not at all, so the reading is taken again until the postmaster
 * reaped nothing during it.
 */
function postgresMs(postmaster: number): number {
  // The postmaster's own time and that of its children it reaped (cutime, cstime).
  const postmasterTimes = () => {
    const fields = statFields(postmaster);
    return { ownMs: ticksMs(fields[11]!, fields[12]!), reapedMs: ticksMs(fields[13]!, fields[14]!) };
  };
  for (;;) {
    const { ownMs, reapedMs } = postmasterTimes();
    let liveMs = 0;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        const fields = statFields(pid);
        if (Number(fields[1]) === postmaster) liveMs += ticksMs(fields[11]!, fields[12]!);
      } catch {
        // Gone between the listing and the read: the reaped time, read again below, tells.
      }
    }
    if (postmasterTimes().reapedMs === reapedMs) return ownMs + reapedMs + liveMs;
  }
}

/**
 * The machine's busy CPU time (user, nice, system, irq and softirq of `/proc/stat`), each
 * process's (utime + stime of `/proc/<pid>/stat`) and, given its postmaster, the PostgreSQL server's,
 * so that a run can say where its CPU went; null where there is no `/proc` (not Linux): the split
 * is then left out.
 */
export function cpuSample(pids: number[], postmaster: number | null = null): CpuSample | null {
  if (!existsSync('/proc/stat')) return null;
  const [user, nice, system, , , irq, softirq] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const processMs = pids.map((pid) => {
    const fields = statFields(pid);
    return ticksMs(fields[11]!, fields[12]!);
  });
  const machineMs = (user! + nice! + system! + irq! + softirq!) * MS_PER_TICK;
  const postgres = postmaster === null ? null : postgresMs(postmaster);
  // A format misread would print NaN quietly: fail the run (and so CI's smoke run) instead.
  if (![machineMs, ...processMs, postgres ?? 0].every(Number.isFinite)) throw new Error(`unreadable CPU counters in /proc: ${machineMs}, ${processMs.join(', ')}, ${postgres}`);
  return { machineMs, processMs, postgresMs: postgres };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const isQuick = process.argv.includes('--quick');

/** `--name=a,b` on the command line: its values (to run a part of a scenario, for an A/B say); `fallback` without it. */
export function listOption(name: string, fallback: string[]): string[] {
  const given = process.argv.find((arg) => arg.startsWith(`--${name}=`));
  return given ? given.slice(name.length + 3).split(',').filter(Boolean) : fallback;
}

/** bench/ (this file lives in bench/src). */
export const benchDir = dirname(dirname(fileURLToPath(import.meta.url)));

/** Writes `bench/results/<name>.json`. */
export function writeResult(name: string, result: object): string {
  const file = `${benchDir}/results/${name}.json`;
  mkdirSync(dirname(file), { recursive: true });
  // What every scenario records of the run and the machine, first.
  const run = { scenario: name, date: new Date().toISOString(), quick: isQuick, node: process.version, pinned: canPin, machine: { cpus: cpus().length, memoryBytes: totalmem() } };
  writeFileSync(file, `${JSON.stringify({ ...run, ...result }, null, 2)}\n`);
  return file;
}

/** A plain-text table, columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

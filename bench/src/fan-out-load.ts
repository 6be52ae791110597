/**
 * Scenario 3's load generator, its own process (spawned by fan-out.ts on the runner's core): holds
 * the subscribers of one conversation AND publishes the messages, so that send and receipt times
 * come from the same clock (`performance.now()` of this process).
 *
 * Over IPC, from the runner: `{ type: 'open', total }` opens sockets up to `total` (answers
 * `opened`); `{ type: 'run', … }` publishes one message every `intervalMs` and answers `result` once
 * every subscriber got every message, or `graceMs` after the last one was sent. It reports
 * `{ type: 'failed' }` as soon as a socket fails, is closed by the server, or a publish fails.
 */
import type WebSocket from 'ws';
import { loadGenerator, openAll, openSocket, type SocketOptions } from './sockets.ts';

/** From the BENCH_FANOUT environment variable (JSON). */
export interface FanOutJob extends SocketOptions {
  /** Socket i sends `tokens[i % tokens.length]` in connection_init (none: no authentication). */
  tokens: string[];
  /** Sockets being opened at once. */
  concurrency: number;
  /** Where and how a message is published. */
  publish:
    | { kind: 'peer'; url: string; conversationId: string }
    /** Atrium: `sendMessage`, the senders taking turns (the messenger's flood limit is per sender). */
    | { kind: 'atrium'; url: string; conversationId: string; senderTokens: string[] };
}

export interface RunRequest {
  type: 'run';
  /** Sent first and not counted: code paths warm, stragglers settled. */
  warmup: number;
  messages: number;
  intervalMs: number;
  /** How long to wait for receipts after the last message was sent. */
  graceMs: number;
}

export interface RunResult {
  type: 'result';
  subscribers: number;
  /** Publish → receipt, ms, over every (subscriber, measured message). */
  p50: number;
  p99: number;
  max: number;
  /** Median over messages of the time until the last subscriber had it. */
  lastReceiptMedian: number;
  /** Per measured message, in order, the time until the last subscriber had it (which message set the p99). */
  lastReceipts: number[];
  /** Median time until the publish request (Atrium: the mutation) answered. */
  publishAnswerMedian: number;
  /**
   * (subscriber, measured message) pairs not received within the grace time; each counts in the
   * percentiles as the time it waited (so they are lower bounds when any is missed). Duplicates received.
   */
  missed: number;
  duplicates: number;
}

export type FanOutMessage = { type: 'opened'; total: number; ms: number } | RunResult | { type: 'failed'; message: string };

const { job, report, fail, failed } = loadGenerator<FanOutJob, FanOutMessage>('BENCH_FANOUT');

/** Kept referenced for as long as the process holds them. */
const held: WebSocket[] = [];

/** The run in progress: messages are told apart by `<run> <k>` in their content. */
let run: { id: string; count: number; sentAt: Float64Array; arrivals: Float64Array; received: Int32Array; duplicates: number } | undefined;
let runs = 0;

function received(index: number, data: unknown): void {
  const event = (data as { conversationEvents?: { type?: string; message?: { content?: string } } })?.conversationEvents;
  // Other events of the conversation (status, assignment…) are not the measured messages.
  if (!run || event?.type !== 'MESSAGE_CREATED') return;
  const at = performance.now();
  const [id, k] = (event.message?.content ?? '').split(' ');
  if (id !== run.id) return;
  const slot = Number(k) * run.count + index;
  if (run.arrivals[slot]! > 0) run.duplicates += 1;
  else {
    run.arrivals[slot] = at;
    run.received[Number(k)]! += 1;
  }
}

async function open(total: number): Promise<void> {
  const began = performance.now();
  const from = held.length;
  const options = { ...job!, count: total - from };
  await openAll(
    total - from,
    job!.concurrency,
    async (offset) => {
      const index = from + offset;
      const token = job!.tokens.length > 0 ? job!.tokens[index % job!.tokens.length] : undefined;
      held.push(await openSocket(index, options, { token, fail, data: (data) => received(index, data) }));
    },
    failed,
  );
  if (!failed()) report({ type: 'opened', total: held.length, ms: performance.now() - began });
}

/** How long a run waits, at most, for the server to answer its publishes once receipts stop counting. */
const BACKLOG_MS = 120_000;

const SEND_MESSAGE = 'mutation ($input: SendMessageInput!) { sendMessage(input: $input) { id } }';

/** Publishes message `k`; resolves once the server answered (rejects on a refusal). */
async function publish(k: number, content: string): Promise<void> {
  const target = job!.publish;
  const atrium = target.kind === 'atrium';
  const response = await fetch(target.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(atrium ? { authorization: `Bearer ${target.senderTokens[k % target.senderTokens.length]}` } : {}) },
    body: JSON.stringify(atrium ? { query: SEND_MESSAGE, variables: { input: { conversationId: target.conversationId, content } } } : { conversationId: target.conversationId, content }),
  });
  const text = await response.text();
  if (!response.ok || (atrium && !(JSON.parse(text) as { data?: unknown }).data)) throw new Error(`publishing message ${k}: ${response.status} ${text.slice(0, 300)}`);
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function median(values: number[]): number {
  return percentile(Float64Array.from(values).sort(), 50);
}

async function runMessages(request: RunRequest): Promise<void> {
  const count = held.length;
  const total = request.warmup + request.messages;
  const current = { id: `fan-out-${process.pid}-${++runs}`, count, sentAt: new Float64Array(total), arrivals: new Float64Array(total * count), received: new Int32Array(total), duplicates: 0 };
  run = current;
  const answered: number[] = [];
  const began = performance.now();
  const publishing: Promise<void>[] = [];
  for (let k = 0; k < total && !failed(); k++) {
    const due = began + k * request.intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    current.sentAt[k] = performance.now();
    publishing.push(
      publish(k, `${current.id} ${k}`).then(
        () => void (k >= request.warmup && answered.push(performance.now() - current.sentAt[k]!)),
        (error: Error) => fail(error.message),
      ),
    );
  }
  // Receipts count until `graceMs` after the last message was sent; later ones are missed.
  const deadline = performance.now() + request.graceMs;
  while (!failed() && current.received.some((n) => n < count) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  run = undefined;
  // A server behind on its publishes would carry them into the next step: let them finish first.
  await Promise.race([Promise.all(publishing), new Promise((resolve) => setTimeout(resolve, BACKLOG_MS))]);
  if (failed()) return;

  // A missed receipt counts as the grace time it waited at least: the percentiles are then lower bounds.
  const latencies = new Float64Array(request.messages * count);
  const lastReceipts: number[] = [];
  let samples = 0;
  for (let k = request.warmup; k < total; k++) {
    let last = 0;
    for (let i = 0; i < count; i++) {
      const at = current.arrivals[k * count + i]!;
      const latency = (at === 0 ? deadline : at) - current.sentAt[k]!;
      latencies[samples++] = latency;
      if (latency > last) last = latency;
    }
    lastReceipts.push(last);
  }
  const missed = request.messages * count - current.received.slice(request.warmup).reduce((sum, n) => sum + n, 0);
  const sorted = latencies.subarray(0, samples).sort();
  report({
    type: 'result',
    subscribers: count,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[samples - 1]!,
    lastReceiptMedian: median(lastReceipts),
    lastReceipts: lastReceipts.map((ms) => Math.round(ms * 10) / 10),
    publishAnswerMedian: median(answered),
    missed,
    duplicates: current.duplicates,
  });
}

process.on('message', (message: { type: 'open'; total: number } | RunRequest) => {
  const task = message.type === 'open' ? open(message.total) : runMessages(message);
  task.catch((error: Error) => fail(error.message));
});

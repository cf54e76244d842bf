/**
 * Peer transport throughput: Append messages carrying 64 KiB entries from one PeerTransport to
 * another (the receiver runs in a worker thread, so each side has its own event loop), for each
 * HTTP/2 window size asked for, in the same run; then the heartbeat traffic of 1,000 groups per
 * tick in both directions, with the bytes per tick coalesced and what the same heartbeats would
 * cost as separate messages.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/transport-throughput.js [--seconds 2] [--rounds 3] [--entry-bytes 65536] [--entries-per-message 1]
 *     [--windows 65535,8388608] [--frame-bytes 1048576] [--bytes-in-flight 8388608] [--groups 1000] [--ticks 50]
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { PeerTransport, type PeerStats } from '../broker/transport/peer-transport.js';
import { loadRaftProto } from '../broker/transport/raft-proto.js';
import { PeerQueue } from '../broker/transport/peer-queue.js';
import { heartbeatMessage, messageFromWire, uint64ToNumber, type WireFrame } from '../broker/transport/raft-codec.js';
import { EntryType, MessageType, type Message } from '../raft/types.js';

const SENDER_ID = 1;
const RECEIVER_ID = 2;
/** The sender keeps at most this many messages queued, so the run measures the link, not drops. */
const SENDER_QUEUE_TARGET_MESSAGES = 64;
const logger = pino({ level: 'warn' });

interface WorkerInput {
  readonly listenAddress: string;
  readonly senderAddress: string;
  readonly windowBytes: number;
  readonly frameBytesTarget: number;
  readonly bytesInFlightMax: number;
}

type WorkerReply = { type: 'counts'; messages: number; entryBytes: number; heartbeats: number; stats: PeerStats | undefined } | { type: 'ready' };
type WorkerRequest = { type: 'counts' } | { type: 'respond-heartbeats'; groups: number; term: number } | { type: 'close' };

function heartbeat(from: number, to: number, term: number, commit: number, type = MessageType.Heartbeat): Message {
  return { type, from, to, term, logTerm: 0, index: 0, entries: [], commit, reject: false, rejectHint: 0, rejectHintTerm: 0 };
}

/** The receiving broker: counts what arrives, answers heartbeats when asked. */
async function runReceiver(input: WorkerInput): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('receiver must run in a worker');
  const counts = { messages: 0, entryBytes: 0, heartbeats: 0 };
  const transport = new PeerTransport({
    selfId: RECEIVER_ID,
    clusterId: 'bench',
    listenAddress: input.listenAddress,
    peers: new Map([[SENDER_ID, input.senderAddress]]),
    limits: { flowControlWindowBytes: input.windowBytes, frameBytesTarget: input.frameBytesTarget, bytesInFlightMax: input.bytesInFlightMax },
    logger,
    onMessage: (_groupId, message) => {
      if (message.type === MessageType.Heartbeat) counts.heartbeats += 1;
      counts.messages += 1;
      for (const entry of message.entries) counts.entryBytes += entry.data.length;
    },
  });
  await transport.start();
  port.on('message', (request: WorkerRequest) => {
    if (request.type === 'counts') {
      port.postMessage({ type: 'counts', ...counts, stats: transport.stats().peers.get(SENDER_ID) } satisfies WorkerReply);
    } else if (request.type === 'respond-heartbeats') {
      for (let groupId = 0; groupId < request.groups; groupId += 1) transport.send(SENDER_ID, groupId, heartbeat(RECEIVER_ID, SENDER_ID, request.term, 0, MessageType.HeartbeatResponse));
      transport.flushTick();
    } else {
      void transport.close().then(() => port.close());
    }
  });
  port.postMessage({ type: 'ready' } satisfies WorkerReply);
}

class ReceiverHandle {
  private readonly waiting: ((reply: WorkerReply) => void)[] = [];

  constructor(readonly worker: Worker) {
    worker.on('message', (reply: WorkerReply) => this.waiting.shift()?.(reply));
  }

  next(): Promise<WorkerReply> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  async counts(): Promise<Extract<WorkerReply, { type: 'counts' }>> {
    const reply = this.next();
    this.worker.postMessage({ type: 'counts' } satisfies WorkerRequest);
    const counts = await reply;
    if (counts.type !== 'counts') throw new Error('unexpected reply');
    return counts;
  }

  request(message: WorkerRequest): void {
    this.worker.postMessage(message);
  }
}

interface Pair {
  readonly sender: PeerTransport;
  readonly receiver: ReceiverHandle;
}

/** Frame size and frames in flight, from the command line. */
let frameLimits = { frameBytesTarget: 1024 * 1024, bytesInFlightMax: 8 * 1024 * 1024 };

async function startPair(windowBytes: number): Promise<Pair> {
  const sender = new PeerTransport({
    selfId: SENDER_ID,
    clusterId: 'bench',
    listenAddress: '127.0.0.1:0',
    peers: new Map(),
    limits: { flowControlWindowBytes: windowBytes, ...frameLimits },
    logger,
    onMessage: () => {},
  });
  const senderAddress = await sender.start();
  const receiverAddress = `127.0.0.1:${await freePortOnce()}`;
  const worker = new Worker(new URL(import.meta.url), { workerData: { listenAddress: receiverAddress, senderAddress, windowBytes, ...frameLimits } satisfies WorkerInput });
  const receiver = new ReceiverHandle(worker);
  await receiver.next();
  sender.updatePeers(new Map([[RECEIVER_ID, receiverAddress]]));
  return { sender, receiver };
}

async function freePortOnce(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

async function stopPair(pair: Pair): Promise<void> {
  const exited = new Promise((resolve) => pair.receiver.worker.once('exit', resolve));
  pair.receiver.request({ type: 'close' });
  await Promise.all([pair.sender.close(), exited]);
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** A wait that stalls this long means a bug: the bench stops with what it saw instead of hanging. */
const STALL_MS = 15_000;

async function waitUntil(what: string, pair: Pair, condition: () => Promise<boolean> | boolean): Promise<void> {
  const stalledAtMs = performance.now() + STALL_MS;
  while (!(await condition())) {
    if (performance.now() > stalledAtMs) {
      const counts = await pair.receiver.counts();
      throw new Error(`stalled waiting for ${what}: receiver ${JSON.stringify(counts)}, sender ${JSON.stringify([...pair.sender.stats().peers.values()])}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Runs one append measurement; returns MB/s of entry data. */
async function measureAppends(windowBytes: number, seconds: number, entryBytes: number, entriesPerMessage: number): Promise<number> {
  const pair = await startPair(windowBytes);
  const data = randomBytes(entryBytes);
  let index = 0;
  let sent = 0;
  const startedMs = performance.now();
  const deadlineMs = startedMs + seconds * 1000;
  while (performance.now() < deadlineMs) {
    const queued = pair.sender.queueDepth(RECEIVER_ID)?.messages ?? 0;
    for (let i = queued; i < SENDER_QUEUE_TARGET_MESSAGES; i += 1) {
      const entries = [];
      for (let e = 0; e < entriesPerMessage; e += 1) entries.push({ index: index + 1 + e, count: 1, term: 3, type: EntryType.Normal, data });
      if (pair.sender.send(RECEIVER_ID, 1, { type: MessageType.Append, from: SENDER_ID, to: RECEIVER_ID, term: 3, logTerm: 3, index, entries, commit: index, reject: false, rejectHint: 0, rejectHintTerm: 0 })) sent += 1;
      index += entriesPerMessage;
    }
    await turn();
  }
  let counts = await pair.receiver.counts();
  await waitUntil('every append', pair, async () => (counts = await pair.receiver.counts()).messages >= sent);
  const elapsedS = (performance.now() - startedMs) / 1000;
  const stats = pair.sender.stats().peers.get(RECEIVER_ID);
  console.log(
    `appends  window ${String(windowBytes).padStart(8)} B: ${(counts.messages / elapsedS).toFixed(0).padStart(6)} msg/s  ` +
      `${(counts.entryBytes / elapsedS / 1e6).toFixed(1).padStart(6)} MB/s of entry data  ` +
      `(${counts.messages} messages of ${entriesPerMessage} x ${entryBytes} B in ${elapsedS.toFixed(2)} s, ${stats?.sentFrames} frames, dropped ${stats?.droppedMessages})`,
  );
  await stopPair(pair);
  return counts.entryBytes / elapsedS / 1e6;
}

async function measureHeartbeats(groups: number, ticks: number): Promise<void> {
  const pair = await startPair(8 * 1024 * 1024);
  // Let the stream come up, so every tick below is one frame on an open stream.
  pair.sender.send(RECEIVER_ID, 0, heartbeat(SENDER_ID, RECEIVER_ID, 1, 0, MessageType.TimeoutNow));
  await waitUntil('the stream', pair, async () => (await pair.receiver.counts()).messages >= 1);
  const before = pair.sender.stats().peers.get(RECEIVER_ID);
  const commitBase = 1_500_000;
  const startedMs = performance.now();
  for (let tick = 1; tick <= ticks; tick += 1) {
    for (let groupId = 0; groupId < groups; groupId += 1) pair.sender.send(RECEIVER_ID, groupId, heartbeat(SENDER_ID, RECEIVER_ID, 5, commitBase + tick * 100 + groupId));
    pair.sender.flushTick();
    pair.receiver.request({ type: 'respond-heartbeats', groups, term: 5 });
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await waitUntil('every heartbeat', pair, async () => (await pair.receiver.counts()).heartbeats >= groups * ticks);
  // Answers still being written when the next tick's arrive are superseded (only the latest term
  // matters), so wait until the receiver has nothing left and the sender has every frame it wrote.
  let answers: PeerStats | undefined;
  await waitUntil('every heartbeat answer', pair, async () => {
    answers = (await pair.receiver.counts()).stats;
    return answers !== undefined && answers.queuedMessages === 0 && answers.sentFrames === pair.sender.stats().peers.get(RECEIVER_ID)?.receivedFrames;
  });
  const elapsedMs = performance.now() - startedMs;
  const after = pair.sender.stats().peers.get(RECEIVER_ID);
  if (before === undefined || after === undefined) throw new Error('no stats');
  const frames = after.heartbeatFrames - before.heartbeatFrames;
  const bytesPerTick = (after.sentBytes - before.sentBytes) / ticks;
  const { Frame } = loadRaftProto();
  const envelopes = [];
  for (let groupId = 0; groupId < groups; groupId += 1) envelopes.push({ groupId, message: heartbeat(SENDER_ID, RECEIVER_ID, 5, commitBase + 100 + groupId) });
  const uncoalescedBytes = Frame.encode({ envelopes }).finish().length;
  console.log(
    `heartbeats of ${groups} groups: ${frames} frames in ${ticks} ticks, ${bytesPerTick.toFixed(0)} B per tick one way ` +
      `(${(bytesPerTick / groups).toFixed(1)} B per group; as ${groups} separate messages: ${uncoalescedBytes} B); ` +
      `answers: ${answers?.heartbeatFrames} frames, ${((answers?.sentBytes ?? 0) / (answers?.heartbeatFrames ?? 1)).toFixed(0)} B each, ${answers?.heartbeatsSuperseded} superseded before they could leave; ` +
      `${(elapsedMs / ticks).toFixed(1)} ms per tick round (10 ms of it sleep)`,
  );
  await stopPair(pair);
}

/**
 * CPU per tick of the heartbeat path alone, in this thread: queue the heartbeats of `groups`
 * groups, build and encode the frame, decode it and rebuild every Message, as sender and receiver
 * do. No network, so the figure is the transport's own cost per peer and tick.
 */
function measureHeartbeatCpu(groups: number): void {
  const { Frame } = loadRaftProto();
  const queue = new PeerQueue(groups * 2, 64 * 1024 * 1024, 1024 * 1024);
  const iterations = 300;
  let rebuilt = 0;
  const startedMs = performance.now();
  for (let iteration = 0; iteration < iterations; iteration += 1) {
    for (let groupId = 0; groupId < groups; groupId += 1) queue.push(groupId, heartbeat(SENDER_ID, RECEIVER_ID, 5, 1_500_000 + iteration + groupId), true);
    const outgoing = queue.takeFrame(1024 * 1024);
    if (outgoing === undefined) throw new Error('no frame');
    const decoded = Frame.decode(Frame.encode(outgoing.frame).finish()) as unknown as WireFrame;
    const batch = decoded.heartbeats;
    if (batch === null) throw new Error('no heartbeats');
    for (let i = 0; i < batch.heartbeatGroupIds.length; i += 1) {
      const message = heartbeatMessage(MessageType.Heartbeat, SENDER_ID, RECEIVER_ID, uint64ToNumber(batch.heartbeatTerms[i]), uint64ToNumber(batch.heartbeatCommits[i]));
      rebuilt += message.commit > 0 ? 1 : 0;
    }
  }
  const perTickMs = (performance.now() - startedMs) / iterations;
  // The same heartbeats as separate envelopes, for comparison.
  const uncoalescedStartedMs = performance.now();
  for (let iteration = 0; iteration < iterations; iteration += 1) {
    for (let groupId = 0; groupId < groups; groupId += 1) queue.push(groupId, heartbeat(SENDER_ID, RECEIVER_ID, 5, 1_500_000 + iteration + groupId), false);
    const outgoing = queue.takeFrame(64 * 1024 * 1024);
    if (outgoing === undefined) throw new Error('no frame');
    const decoded = Frame.decode(Frame.encode(outgoing.frame).finish()) as unknown as WireFrame;
    for (const envelope of decoded.envelopes) rebuilt += envelope.message !== null && messageFromWire(envelope.message).commit > 0 ? 1 : 0;
  }
  const uncoalescedPerTickMs = (performance.now() - uncoalescedStartedMs) / iterations;
  if (rebuilt !== 2 * groups * iterations) throw new Error('lost heartbeats');
  console.log(
    `heartbeat CPU, ${groups} groups, per tick and peer (queue, frame, encode, decode, rebuild; one thread): ` +
      `coalesced ${perTickMs.toFixed(3)} ms, as separate envelopes ${uncoalescedPerTickMs.toFixed(3)} ms`,
  );
}

function parseArguments(): { seconds: number; entryBytes: number; entriesPerMessage: number; windows: number[]; groups: number; ticks: number; rounds: number; frameBytesTarget: number; bytesInFlightMax: number } {
  const args = process.argv.slice(2);
  const value = (flag: string, fallback: string): string => {
    const k = args.indexOf(flag);
    return k >= 0 && k + 1 < args.length ? args[k + 1] : fallback;
  };
  return {
    seconds: Number(value('--seconds', '2')),
    entryBytes: Number(value('--entry-bytes', String(64 * 1024))),
    entriesPerMessage: Number(value('--entries-per-message', '1')),
    windows: value('--windows', '65535,8388608').split(',').filter((text) => text !== '').map(Number),
    groups: Number(value('--groups', '1000')),
    ticks: Number(value('--ticks', '50')),
    rounds: Number(value('--rounds', '3')),
    frameBytesTarget: Number(value('--frame-bytes', String(1024 * 1024))),
    bytesInFlightMax: Number(value('--bytes-in-flight', String(8 * 1024 * 1024))),
  };
}

if (isMainThread) {
  const options = parseArguments();
  frameLimits = { frameBytesTarget: options.frameBytesTarget, bytesInFlightMax: options.bytesInFlightMax };
  console.log(`frames of ${options.frameBytesTarget} B, at most ${options.bytesInFlightMax} B in flight per peer`);
  // Window sizes alternate round by round, so load from elsewhere on the machine hits them alike.
  const results = new Map<number, number[]>(options.windows.map((windowBytes) => [windowBytes, []]));
  for (let round = 0; round < options.rounds; round += 1) {
    for (const windowBytes of options.windows) results.get(windowBytes)?.push(await measureAppends(windowBytes, options.seconds, options.entryBytes, options.entriesPerMessage));
  }
  for (const [windowBytes, rates] of results) {
    const sorted = [...rates].sort((x, y) => x - y);
    console.log(`median over ${sorted.length} rounds, window ${windowBytes} B: ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} MB/s`);
  }
  await measureHeartbeats(options.groups, options.ticks);
  measureHeartbeatCpu(options.groups);
} else {
  await runReceiver(workerData as WorkerInput);
}

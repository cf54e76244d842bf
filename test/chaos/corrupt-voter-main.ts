/**
 * `node dist/test/chaos/corrupt-voter-main.js [--scenario lost-suffix|two-damaged]`: fixed
 * scenarios (3 brokers, one partition, RF=3, 20-40 s each) around replicas whose recovery cut
 * their log at a bit flip. Exit 0 when Brook behaves, 1 when not, 2 on a bad argument.
 *
 * lost-suffix (default): one bit flipped on ONE replica must not lose acknowledged records (1 when
 * some are lost or their offsets reused):
 *
 *   1. L leads; X and Y follow. 1,500 acks=all records (phase A) reach all three.
 *   2. Y is SIGKILLed. 1,500 more records (phase B) are acknowledged by L and X.
 *   3. L and X are SIGKILLed too (every broker is down); each data dir is cut to its fsynced
 *      lengths (a power loss, as the nemesis does it); one bit is flipped in a phase-A batch of
 *      X's tail segment, below Y's log end.
 *   4. X and Y are started, L is not. X's recovery meets the bad CRC and cuts its log there (the
 *      tail segment is CRC-scanned from its last durable index entry, here its start), so X's
 *      log now ends below Y's; X grants Y its vote; Y leads without phase B and acknowledges
 *      new records (phase C) at phase B's offsets.
 *   5. L is started: it truncates phase B to follow Y.
 *
 * Raft's safety rests on a voter never forgetting entries it accepted; X forgot 2,400 of them
 * and voted anyway. A correct Brook keeps X from voting (and campaigning) until it has fetched
 * its lost suffix again, so step 4 elects nobody until L is back and the run exits 0.
 *
 * two-damaged: every broker is killed (power loss) after 1,500 records reached all three; both
 * followers get a bit flip in their tail segment and find it on restart; the former leader holds
 * every record intact. It must be elected (the damaged ones may vote for a log that holds all
 * they had) and acknowledge writes within 30 s (1 when the partition stays leaderless).
 *
 * CORRUPT_VOTER_LOGS=1 prints the brokers' warnings and errors at the end; CORRUPT_VOTER_LOG_LEVEL
 * sets their log level (default info).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Admin } from '../../client/admin.js';
import { Producer } from '../../producer/producer.js';
import { iterateBatches, iterateRecords } from '../../record/record-batch.js';
import { ClusterHarness } from '../fixtures/cluster-harness.js';
import { replicaDirOf } from '../cluster/replica-files.js';
import { cutToSyncedLengths } from './disk-faults.js';

const TOPIC = 'corrupt-voter';
const PHASE_RECORDS = 1500;
const PHASE_C_RECORDS = 300;
const SENDS_IN_FLIGHT_MAX = 50;
/** After Y is back with X and L is still down: how long a correct cluster may elect nobody. */
const LEADERLESS_WAIT_MS = 15_000;
/** Longer than a run: leaderships stay where the scenario put them. */
const LEADER_BALANCE_INTERVAL_MS = 3_600_000;
/** two-damaged: how long the sound replica may take to be elected after the restart. */
const TWO_DAMAGED_LEADER_WAIT_MS = 30_000;
/** The RecordBatch v2 header: a bit flipped at or after it lies in the CRC-covered records. */
const BATCH_HEADER_BYTES = 61;
/** The flipped batch lies at or above this offset (and in phase A). */
const FLIP_OFFSET_MIN = 600;

const startedAtMs = Date.now();
function log(line: string): void {
  process.stdout.write(`[${((Date.now() - startedAtMs) / 1000).toFixed(1)} s] ${line}\n`);
}

/** One past the last offset of the last whole batch of a replica, CRCs not checked. */
function logEndOffsetOf(dir: string): number {
  let end = 0;
  for (const name of readdirSync(dir).filter((file) => /^\d{20}\.log$/.test(file)).sort()) {
    for (const batch of iterateBatches(readFileSync(join(dir, name)), { verifyCrc: false })) end = batch.info.baseOffset + batch.info.lastOffsetDelta + 1;
  }
  return end;
}

/** offset -> value of the data records a replica holds, CRCs not checked. */
function recordsOf(dir: string): Map<number, string> {
  const records = new Map<number, string>();
  for (const name of readdirSync(dir).filter((file) => /^\d{20}\.log$/.test(file)).sort()) {
    for (const record of iterateRecords(readFileSync(join(dir, name)), { verifyCrc: false })) {
      records.set(record.offset, record.value === null ? '' : Buffer.from(record.value).toString());
    }
  }
  return records;
}

async function main(): Promise<number> {
  const scenarioArgument = process.argv.indexOf('--scenario');
  const scenario = scenarioArgument < 0 ? 'lost-suffix' : process.argv[scenarioArgument + 1];
  if (scenario !== 'lost-suffix' && scenario !== 'two-damaged') {
    process.stderr.write(`--scenario must be lost-suffix or two-damaged, got ${scenario}\n`);
    return 2;
  }
  const workDir = mkdtempSync(join(tmpdir(), 'brook-corrupt-voter-'));
  const journalOf = (id: number): string => join(workDir, `fsync-journal-broker-${id}.txt`);
  const cluster = await ClusterHarness.start({ brokers: 3, envOf: (id) => ({ BROOK_TEST_FSYNC_JOURNAL: journalOf(id) }),
    // The roles must not move to a preferred replica between the phases.
    flags: ['--leader-balance-interval-ms', String(LEADER_BALANCE_INTERVAL_MS)],
    logLevel: process.env.CORRUPT_VOTER_LOG_LEVEL ?? 'info' });
  const acknowledged = new Map<number, string>();
  let reused = 0;
  let sequence = 0;
  const produce = async (phase: string, count: number, deliveryTimeoutMs = 120_000): Promise<number[]> => {
    const producer = new Producer({ brokers: cluster.bootstrap, requestTimeoutMs: 5000, deliveryTimeoutMs, retry: { retries: 200, initialRetryMs: 50, maxRetryMs: 500, maxRetryTimeMs: deliveryTimeoutMs } });
    await producer.connect();
    const offsets: number[] = [];
    try {
      for (let sent = 0; sent < count; sent += SENDS_IN_FLIGHT_MAX) {
        const outcomes = await Promise.allSettled(Array.from({ length: Math.min(SENDS_IN_FLIGHT_MAX, count - sent) }, async () => {
          const value = `${phase}-${sequence++}`;
          const [metadata] = await producer.send({ topic: TOPIC, messages: [{ value }] });
          const earlier = acknowledged.get(metadata.offset);
          if (earlier !== undefined) {
            if (reused === 0) log(`offset ${metadata.offset} acknowledged twice: ${earlier}, now ${value}`);
            reused++;
          }
          acknowledged.set(metadata.offset, value);
          offsets.push(metadata.offset);
        }));
        const failed = outcomes.find((outcome) => outcome.status === 'rejected');
        if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
      }
    } finally {
      await producer.disconnect();
    }
    offsets.sort((a, b) => a - b);
    log(`phase ${phase}: ${count} acknowledged at offsets ${offsets[0]}..${offsets[offsets.length - 1]}`);
    return offsets;
  };
  const dirOf = (id: number): string => {
    const dir = replicaDirOf(cluster.broker(id).dataDir, TOPIC, 0);
    assert.ok(dir !== undefined, `broker ${id} holds a replica of ${TOPIC}/0`);
    return dir;
  };
  /** Flips one bit in a phase-A batch (at or above FLIP_OFFSET_MIN, below `below`) of the tail segment of broker `id`'s replica. */
  const flipTailBatch = (id: number, below: number): void => {
    const segments = readdirSync(dirOf(id)).filter((file) => /^\d{20}\.log$/.test(file)).sort();
    const tailPath = join(dirOf(id), segments[segments.length - 1]);
    const bytes = readFileSync(tailPath);
    const victim = [...iterateBatches(bytes, { verifyCrc: false })].find((batch) => batch.info.baseOffset >= FLIP_OFFSET_MIN && batch.size > BATCH_HEADER_BYTES);
    assert.ok(victim !== undefined && victim.info.baseOffset < below, `broker ${id}'s tail segment holds a batch at or above offset ${FLIP_OFFSET_MIN}, below ${below}`);
    const position = victim.pos + BATCH_HEADER_BYTES + 3;
    bytes[position] ^= 0x04;
    writeFileSync(tailPath, bytes);
    const indexPath = tailPath.replace(/\.log$/, '.index');
    log(`flipped bit 2 of byte ${position} of broker ${id}'s ${segments[segments.length - 1]} (batch ${victim.info.baseOffset}); its index holds ${existsSync(indexPath) ? statSync(indexPath).size : 0} bytes`);
  };
  try {
    const admin = new Admin({ brokers: cluster.bootstrap });
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1, replicationFactor: 3 }] });
    await admin.disconnect();
    const l = await cluster.waitForLeader(TOPIC, 0);
    const [x, y] = cluster.ids().filter((id) => id !== l);
    if (scenario === 'two-damaged') {
      log(`L = broker ${l} (leader, stays sound), X = broker ${x} and Y = broker ${y} (both get a bit flip)`);
      await produce('A', PHASE_RECORDS);
      const end = logEndOffsetOf(dirOf(l));
      for (let waited = 0; (logEndOffsetOf(dirOf(x)) < end || logEndOffsetOf(dirOf(y)) < end) && waited < 10_000; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
      for (const id of [l, x, y]) await cluster.kill(id);
      for (const id of [l, x, y]) {
        const cut = cutToSyncedLengths(cluster.broker(id).dataDir, journalOf(id));
        log(`power loss, broker ${id}: ${cut.filesCut} files, ${cut.bytesCut} bytes cut; log end ${logEndOffsetOf(dirOf(id))}`);
      }
      flipTailBatch(x, end);
      flipTailBatch(y, end);
      await Promise.all([l, x, y].map((id) => cluster.restart(id)));
      // L holds every acknowledged record: electing it is safe, and X's and Y's repair needs a leader.
      try {
        await produce('B', PHASE_C_RECORDS, TWO_DAMAGED_LEADER_WAIT_MS);
      } catch (error) {
        const repairOf = (id: number): string => readFileSync(join(dirOf(id), 'raft-state'), 'utf8').split('\n').find((line) => line.startsWith('repair ')) ?? 'no repair line';
        log(`writes fail: ${error instanceof Error ? error.message : String(error)}`);
        log(`log ends L ${logEndOffsetOf(dirOf(l))}, X ${logEndOffsetOf(dirOf(x))} (${repairOf(x)}), Y ${logEndOffsetOf(dirOf(y))} (${repairOf(y)})`);
        process.stdout.write('FAIL: L holds every acknowledged record, yet the partition takes no writes (X and Y wait for a leader to repair, and L needs one of their votes)\n');
        return 1;
      }
      log(`writes acknowledged; log ends L ${logEndOffsetOf(dirOf(l))}, X ${logEndOffsetOf(dirOf(x))}, Y ${logEndOffsetOf(dirOf(y))}`);
      process.stdout.write('PASS: a leader was elected and acknowledged writes\n');
      return 0;
    }
    log(`L = broker ${l} (leader), X = broker ${x} (gets the bit flip), Y = broker ${y} (falls behind)`);

    await produce('A', PHASE_RECORDS);
    // Y's copy of phase A is durable once its log end reaches the leader's.
    const leaderEnd = logEndOffsetOf(dirOf(l));
    for (let waited = 0; logEndOffsetOf(dirOf(y)) < leaderEnd && waited < 10_000; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
    await cluster.kill(y);
    log(`Y killed with its log ending at ${logEndOffsetOf(dirOf(y))}`);
    const phaseB = await produce('B', PHASE_RECORDS);

    assert.equal(await cluster.leaderOf(TOPIC, 0), l, 'L still leads when the power goes');
    await cluster.kill(l);
    await cluster.kill(x);
    for (const id of [l, x, y]) {
      const cut = cutToSyncedLengths(cluster.broker(id).dataDir, journalOf(id));
      log(`power loss, broker ${id}: ${cut.filesCut} files, ${cut.bytesCut} bytes cut; log end ${logEndOffsetOf(dirOf(id))}`);
    }
    flipTailBatch(x, phaseB[0]);
    await Promise.all([cluster.restart(x), cluster.restart(y)]);
    // The brokers serve before their replicas are open: wait for X's recovery to cut its log.
    for (let waited = 0; logEndOffsetOf(dirOf(x)) >= phaseB[0] && waited < 10_000; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
    log(`after recovery: log ends X ${logEndOffsetOf(dirOf(x))} (cut at the flip), Y ${logEndOffsetOf(dirOf(y))}`);
    // Whether some broker takes writes without L (the metadata alone can name a broker whose
    // replica is still opening: it falls back to the controller's last known leader).
    try {
      await produce('C', PHASE_C_RECORDS, LEADERLESS_WAIT_MS);
      log(`writes were acknowledged without L; log ends X ${logEndOffsetOf(dirOf(x))}, Y ${logEndOffsetOf(dirOf(y))}`);
    } catch (error) {
      log(`no writes acknowledged without L within ${LEADERLESS_WAIT_MS / 1000} s (correct: only L holds phase B intact): ${error instanceof Error ? error.message : String(error)}`);
    }
    await cluster.restart(l);
    await cluster.waitForLeader(TOPIC, 0, 60_000);
    // L follows whoever leads now (and may truncate): read it once the three logs agree.
    const ends = (): number[] => [l, x, y].map((id) => logEndOffsetOf(dirOf(id)));
    for (let waited = 0; new Set(ends()).size > 1 && waited < 30_000; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
    log(`log ends L, X, Y: ${ends().join(', ')}`);
    const onL = recordsOf(dirOf(l));
    const lost = phaseB.filter((offset) => onL.get(offset) !== acknowledged.get(offset) || !onL.get(offset)?.startsWith('B-'));
    log(`phase B: ${phaseB.length} acknowledged at ${phaseB[0]}..${phaseB[phaseB.length - 1]}; on L now: ${phaseB.length - lost.length}, lost ${lost.length}${lost.length > 0 ? ` (first at offset ${lost[0]})` : ''}; offsets acknowledged twice: ${reused}`);
    process.stdout.write(lost.length > 0 || reused > 0 ? 'FAIL: acknowledged records lost\n' : 'PASS: nothing acknowledged was lost\n');
    return lost.length > 0 || reused > 0 ? 1 : 0;
  } finally {
    if (process.env.CORRUPT_VOTER_LOGS === '1') process.stdout.write(`${cluster.logs(400_000).split('\n').filter((line) => !line.includes('"level":30')).join('\n')}\n`);
    await cluster.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}

process.exit(await main());

/**
 * The record-format fuzzer shared by the CI test (fuzz.test.ts) and the long run (fuzz-main.ts).
 *
 * Each case is derived from (seed, case index) alone, so any failure replays by itself. A case is
 * one of: a valid batch (from a corpus built from the seed) mutated (bit flips, interesting values over length and count fields,
 * truncation, splices, random tails), with or without its CRC fixed afterwards so the mutation
 * reaches the parsers behind the CRC; random bytes, bare or behind a plausible header; several
 * batches concatenated; or a random round trip (encode, decode, compare). Only CorruptRecordError
 * and InvalidRecordError may escape the decoder; anything else, or a round trip that differs, is a
 * failure.
 */
import { OFFSET_ATTRIBUTES, OFFSET_CRC, Codec, computeBatchCrc } from '../../record/batch-header.js';
import { isRecordFormatError } from '../../record/errors.js';
import type { ProduceRecord } from '../../record/record.js';
import { type DecodeLimits, decodeBatch, encodeBatch, iterateRecords, validateBatch } from '../../record/record-batch.js';
import { TestRandom } from '../fixtures/test-random.js';

/** Small limits so that a mutated size cannot make a case slow; still far above the corpus. */
export const FUZZ_LIMITS: DecodeLimits = { maxDecompressedBytes: 1 << 20, maxRecords: 10_000 };
const NOW_MS = 1_700_000_000_000;
const CODECS = [Codec.None, Codec.Gzip, Codec.Snappy, Codec.Lz4, Codec.Zstd];
const INTERESTING_INT32 = [0, 1, -1, -2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, -0x80000000, 61, 49, 48];
const INTERESTING_BYTES = [0x00, 0x01, 0x02, 0x03, 0x7f, 0x80, 0x81, 0xfe, 0xff];

export interface FuzzFailure {
  seed: number;
  caseIndex: number;
  kind: string;
  error: string;
}

export interface FuzzReport {
  cases: number;
  typedErrors: number;
  decoded: number;
  failures: FuzzFailure[];
  /** Typed errors by reason ('invalid' for InvalidRecordError): shows what the cases reach. */
  reasons: Map<string, number>;
}

/** MurmurHash3's 32-bit finalizer: every input bit affects every output bit. */
function mix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h;
}

/** A per-case seed from (seed, index), never 0; nearby seeds give unrelated cases. */
function caseSeed(seed: number, caseIndex: number): number {
  return mix32(mix32(seed) ^ Math.imul(caseIndex + 1, 0x9e3779b1)) || 1;
}

function randomRecords(random: TestRandom, maxRecords: number): ProduceRecord[] {
  const count = 1 + random.below(maxRecords);
  const records: ProduceRecord[] = [];
  for (let i = 0; i < count; i++) {
    const headers = [];
    for (let h = random.chance(0.3) ? random.below(3) : 0; h > 0; h--) {
      headers.push({ key: random.unicodeString(4), value: random.chance(0.3) ? null : random.bytes(random.below(8)) });
    }
    records.push({
      key: random.chance(0.3) ? null : random.bytes(random.below(12)),
      value: random.chance(0.1) ? null : random.chance(0.5) ? random.compressibleBytes(random.below(400)) : random.bytes(random.below(64)),
      headers,
      timestamp: NOW_MS + random.below(10_000_000) - 5_000_000,
    });
  }
  return records;
}

function randomBatch(random: TestRandom): Buffer {
  return encodeBatch(randomRecords(random, 12), {
    codec: CODECS[random.below(CODECS.length)],
    baseOffset: random.below(1_000_000),
    partitionLeaderEpoch: random.below(100),
    producerId: random.chance(0.5) ? random.below(1000) : -1,
    producerEpoch: random.chance(0.5) ? random.below(100) : -1,
    baseSequence: random.chance(0.5) ? random.below(1000) : -1,
    transactional: random.chance(0.2),
    control: random.chance(0.1),
    timestampType: random.chance(0.2) ? 'log-append' : 'create',
    nowMs: NOW_MS,
  });
}

/** Valid batches the mutations start from, built once per seed (so a case still replays alone). */
const CORPUS_BATCHES = 256;
const corpora = new Map<number, Buffer[]>();

function corpusFor(seed: number): Buffer[] {
  let corpus = corpora.get(seed);
  if (corpus === undefined) {
    const random = new TestRandom(mix32(seed ^ 0x5bd1e995) || 1);
    corpus = Array.from({ length: CORPUS_BATCHES }, () => randomBatch(random));
    corpora.set(seed, corpus);
  }
  return corpus;
}

function mutate(random: TestRandom, input: Buffer): Buffer {
  let buf = Buffer.from(input);
  const mutations = 1 + random.below(4);
  for (let m = 0; m < mutations && buf.length > 0; m++) {
    switch (random.below(8)) {
      case 0:
        buf[random.below(buf.length)] ^= 1 << random.below(8);
        break;
      case 1:
        buf[random.below(buf.length)] = INTERESTING_BYTES[random.below(INTERESTING_BYTES.length)];
        break;
      case 2:
        if (buf.length >= 4) buf.writeInt32BE(INTERESTING_INT32[random.below(INTERESTING_INT32.length)], random.below(buf.length - 3));
        break;
      case 3:
        buf = buf.subarray(0, random.below(buf.length));
        break;
      case 4:
        buf = Buffer.concat([buf, random.bytes(1 + random.below(32))]);
        break;
      case 5: {
        const start = random.below(buf.length);
        const end = start + random.below(Math.min(16, buf.length - start) + 1);
        buf = Buffer.concat([buf.subarray(0, start), buf.subarray(end)]);
        break;
      }
      case 6: {
        const start = random.below(buf.length);
        const piece = buf.subarray(start, start + random.below(16));
        const at = random.below(buf.length);
        buf = Buffer.concat([buf.subarray(0, at), piece, buf.subarray(at)]);
        break;
      }
      default:
        buf[random.below(buf.length)] = random.nextUint32() & 0xff;
    }
  }
  return buf;
}

/** Restores batchLength and CRC after a mutation, when the header is still long enough. */
function refit(buf: Buffer, fixLength: boolean): Buffer {
  if (buf.length < 61) return buf;
  if (fixLength) buf.writeInt32BE(buf.length - 12, 8);
  const size = buf.readInt32BE(8) + 12;
  if (size >= OFFSET_ATTRIBUTES && size <= buf.length) buf.writeUInt32BE(computeBatchCrc(buf, 0, size), OFFSET_CRC);
  return buf;
}

function sameBytes(a: Buffer | null | undefined, b: Buffer | null): boolean {
  if (a === null || a === undefined) return b === null;
  return b !== null && a.equals(b);
}

/** A round trip that must succeed and agree; returns a description of the first difference. */
function roundTrip(random: TestRandom): string | null {
  const records = randomRecords(random, 30);
  const codec = CODECS[random.below(CODECS.length)];
  const baseOffset = random.below(2 ** 40);
  const { records: decoded } = decodeBatch(encodeBatch(records, { codec, baseOffset, nowMs: NOW_MS }), 0, FUZZ_LIMITS);
  if (decoded.length !== records.length) return `decoded ${decoded.length} of ${records.length} records`;
  for (let i = 0; i < records.length; i++) {
    const got = decoded[i];
    const want = records[i];
    if (got.offset !== baseOffset + i || got.timestamp !== want.timestamp) return `record ${i}: offset or timestamp differs`;
    if (!sameBytes(want.key, got.key) || !sameBytes(want.value, got.value)) return `record ${i}: key or value differs`;
    const headers = want.headers ?? [];
    if (got.headers.length !== headers.length) return `record ${i}: header count differs`;
    for (let h = 0; h < headers.length; h++) {
      if (got.headers[h].key !== headers[h].key || !sameBytes(headers[h].value, got.headers[h].value)) return `record ${i}: header ${h} differs`;
    }
  }
  return null;
}

/** Builds the input of one case from a corpus batch (round trips are run separately). */
function caseInput(random: TestRandom, kind: number, corpus: Buffer[]): Buffer {
  const pick = (): Buffer => corpus[random.below(corpus.length)];
  switch (kind) {
    case 0:
    case 1:
    case 2:
      return mutate(random, pick());
    case 3:
    case 4:
    case 5:
      return refit(mutate(random, pick()), random.chance(0.5));
    case 6: {
      // Random bytes behind a plausible header: magic 2, lengths that fit.
      const buf = Buffer.concat([pick().subarray(0, 61), random.bytes(random.below(200))]);
      return refit(buf, true);
    }
    case 7:
      return random.bytes(random.below(300));
    default:
      return mutate(random, Buffer.concat([pick(), pick(), pick()]));
  }
}

const KIND_NAMES = ['mutated', 'mutated', 'mutated', 'mutated+crc', 'mutated+crc', 'mutated+crc', 'random-behind-header', 'random', 'concatenated', 'round-trip'];

/** Runs one case; returns a failure description or null. */
export function runCase(seed: number, caseIndex: number, report: FuzzReport): void {
  const random = new TestRandom(caseSeed(seed, caseIndex));
  const kind = random.below(KIND_NAMES.length);
  report.cases++;
  try {
    if (KIND_NAMES[kind] === 'round-trip') {
      const difference = roundTrip(random);
      if (difference !== null) report.failures.push({ seed, caseIndex, kind: KIND_NAMES[kind], error: difference });
      report.decoded++;
      return;
    }
    const input = caseInput(random, kind, corpusFor(seed));
    // Now and then a tight limit, so decompressors stop mid-way (lz4 then decodes block by block).
    const limits = random.chance(0.2) ? { maxDecompressedBytes: random.below(8192), maxRecords: 1 + random.below(20) } : FUZZ_LIMITS;
    if (KIND_NAMES[kind] === 'concatenated') {
      let count = 0;
      for (const record of iterateRecords(input, { limits, skipControl: false })) count += record.offset >= 0 ? 1 : 0;
    } else {
      // validateBatch and decodeBatch must agree on whether the batch is acceptable.
      let validated: string;
      try {
        validated = JSON.stringify(validateBatch(input, 0, limits));
      } catch (error) {
        if (!isRecordFormatError(error)) throw error;
        validated = 'refused';
      }
      let decodedInfo = 'refused';
      try {
        const { info, records, size } = decodeBatch(input, 0, limits);
        decodedInfo = JSON.stringify(info);
        if (records.length !== info.recordCount || size > input.length) {
          report.failures.push({ seed, caseIndex, kind: KIND_NAMES[kind], error: `inconsistent decode: ${records.length} of ${info.recordCount}, size ${size}` });
        }
      } finally {
        if ((validated === 'refused') !== (decodedInfo === 'refused')) {
          report.failures.push({ seed, caseIndex, kind: KIND_NAMES[kind], error: `validateBatch ${validated === 'refused' ? 'refused' : 'accepted'} what decodeBatch did not` });
        }
      }
    }
    report.decoded++;
  } catch (error) {
    if (isRecordFormatError(error)) {
      report.typedErrors++;
      const reason = 'reason' in error ? error.reason : 'invalid';
      report.reasons.set(reason, (report.reasons.get(reason) ?? 0) + 1);
      return;
    }
    report.failures.push({ seed, caseIndex, kind: KIND_NAMES[kind], error: (error as Error)?.stack ?? String(error) });
  }
}

/** Runs `cases` cases of `seed` from `firstCase`. */
export function runFuzz(seed: number, cases: number, firstCase = 0): FuzzReport {
  const report: FuzzReport = { cases: 0, typedErrors: 0, decoded: 0, failures: [], reasons: new Map() };
  for (let i = firstCase; i < firstCase + cases; i++) runCase(seed, i, report);
  return report;
}

export function describeFailure(failure: FuzzFailure): string {
  return `seed=${failure.seed} case=${failure.caseIndex} kind=${failure.kind}: ${failure.error}`;
}

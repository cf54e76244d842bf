/**
 * MurmurHash2 (32-bit) with the seed and byte order Kafka's Java client uses to partition keyed
 * records, so the same key lands in the same partition number in Brook as in Kafka.
 * All arithmetic is 32-bit two's complement, as in Java ints: Math.imul multiplies mod 2^32.
 */
const SEED = 0x9747b28c;
const MIX = 0x5bd1e995;
const SHIFT = 24;

/** The signed 32-bit murmur2 hash of `data`, equal to Kafka's Utils.murmur2. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let hash = SEED ^ length;
  const wholeWordsEnd = length & ~3;
  for (let i = 0; i < wholeWordsEnd; i += 4) {
    let word = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    word = Math.imul(word, MIX);
    word ^= word >>> SHIFT;
    word = Math.imul(word, MIX);
    hash = Math.imul(hash, MIX);
    hash ^= word;
  }
  // The tail bytes (1 to 3) are mixed in together, as in the reference's fall-through switch.
  const tailBytes = length & 3;
  if (tailBytes === 3) hash ^= data[wholeWordsEnd + 2] << 16;
  if (tailBytes >= 2) hash ^= data[wholeWordsEnd + 1] << 8;
  if (tailBytes >= 1) {
    hash ^= data[wholeWordsEnd];
    hash = Math.imul(hash, MIX);
  }
  hash ^= hash >>> 13;
  hash = Math.imul(hash, MIX);
  hash ^= hash >>> 15;
  return hash | 0;
}

/** Kafka's toPositive: clears the sign bit (not Math.abs, which differs for negatives). */
export function toPositive(value: number): number {
  return value & 0x7fffffff;
}

/** The partition Kafka's default partitioner picks for `key` among `partitionCount` partitions. */
export function partitionForKey(key: Uint8Array, partitionCount: number): number {
  return toPositive(murmur2(key)) % partitionCount;
}

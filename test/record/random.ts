/** A small seeded PRNG for tests and fuzzing: a failing seed replays exactly. */
export class TestRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  /** xorshift32: a uint32. */
  nextUint32(): number {
    let x = this.state;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.state = x;
    return x;
  }

  /** An integer in [0, bound). */
  below(bound: number): number {
    return Math.floor((this.nextUint32() / 0x100000000) * bound);
  }

  chance(probability: number): boolean {
    return this.nextUint32() / 0x100000000 < probability;
  }

  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) out[i] = this.nextUint32() & 0xff;
    return out;
  }

  /** Bytes that compress: runs of a few symbols. */
  compressibleBytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    const alphabet = 1 + this.below(8);
    for (let i = 0; i < length; ) {
      const run = 1 + this.below(16);
      const symbol = 97 + this.below(alphabet);
      for (let j = 0; j < run && i < length; j++) out[i++] = symbol;
    }
    return out;
  }

  /** A string mixing ASCII, accented, CJK and astral characters. */
  unicodeString(maxChars: number): string {
    const pieces = ['a', 'Z', '0', '-', 'é', 'ß', '€', '中', '文', '😀', '𝄞', ' '];
    let text = '';
    const length = this.below(maxChars + 1);
    for (let i = 0; i < length; i++) text += pieces[this.below(pieces.length)];
    return text;
  }
}

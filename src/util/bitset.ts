/** A fixed-size set of chunk indexes. Bit i is bit (i % 8) of byte i / 8 (LSB first). */
export class Bitset {
  readonly bytes: Uint8Array;
  private population = 0;

  constructor(
    readonly size: number,
    bytes?: Uint8Array,
  ) {
    this.bytes = bytes ?? new Uint8Array(Bitset.byteLength(size));
    if (bytes) for (const b of bytes) this.population += popcount(b);
  }

  static byteLength(size: number): number {
    return Math.ceil(size / 8);
  }

  /** Why `bytes` is not a valid bitfield for `size` bits, or null. */
  static problem(size: number, bytes: Uint8Array): string | null {
    if (bytes.length !== Bitset.byteLength(size)) return `bitfield of ${bytes.length} bytes for ${size} chunks (expected ${Bitset.byteLength(size)})`;
    const spare = size % 8;
    if (spare !== 0 && bytes[bytes.length - 1]! >> spare !== 0) return "bitfield has bits set past the last chunk";
    return null;
  }

  static full(size: number): Bitset {
    const set = new Bitset(size);
    for (let i = 0; i < size; i++) set.add(i);
    return set;
  }

  has(i: number): boolean {
    return (this.bytes[i >> 3]! & (1 << (i & 7))) !== 0;
  }

  add(i: number): void {
    if (this.has(i)) return;
    this.bytes[i >> 3]! |= 1 << (i & 7);
    this.population++;
  }

  delete(i: number): void {
    if (!this.has(i)) return;
    this.bytes[i >> 3]! &= ~(1 << (i & 7));
    this.population--;
  }

  get count(): number {
    return this.population;
  }

  get complete(): boolean {
    return this.population === this.size;
  }

  *members(): Generator<number> {
    const { bytes } = this;
    for (let at = 0; at < bytes.length; at++) {
      // Whole empty bytes are skipped: a sparse set is listed in about size / 8 steps.
      for (let b = bytes[at]!; b !== 0; b &= b - 1) yield (at << 3) + (31 - Math.clz32(b & -b));
    }
  }
}

function popcount(b: number): number {
  let n = 0;
  for (; b; b &= b - 1) n++;
  return n;
}

/** Latencies in ms, kept whole so percentiles are exact (a 10 s scenario holds at most a few 100,000). */
export class Latencies {
  #values: number[] = [];
  #sorted: Float64Array | undefined;

  add(ms: number): void {
    this.#values.push(ms);
    this.#sorted = undefined;
  }

  get count(): number {
    return this.#values.length;
  }

  /** Nearest-rank percentile, `q` in 0..1; 0 when nothing was recorded. */
  percentile(q: number): number {
    if (this.#values.length === 0) return 0;
    this.#sorted ??= Float64Array.from(this.#values).sort();
    const sorted = this.#sorted;
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  }
}

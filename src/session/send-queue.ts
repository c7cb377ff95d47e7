// Two-class send queue: high-priority items always leave before normal ones that are still
// waiting; within a class the order is first in, first out.

export class PrioritySendQueue<T> {
  private high: T[] = [];
  private normal: T[] = [];
  private highHead = 0;
  private normalHead = 0;

  push(item: T, high: boolean): void {
    (high ? this.high : this.normal).push(item);
  }

  shift(): T | undefined {
    if (this.highHead < this.high.length) return this.take('high');
    if (this.normalHead < this.normal.length) return this.take('normal');
    return undefined;
  }

  get length(): number {
    return this.high.length - this.highHead + this.normal.length - this.normalHead;
  }

  clear(): void {
    this.high = [];
    this.normal = [];
    this.highHead = 0;
    this.normalHead = 0;
  }

  private take(which: 'high' | 'normal'): T {
    // Advance a head index instead of Array.shift(), which is O(n) on long queues; compact now and then.
    if (which === 'high') {
      const item = this.high[this.highHead++]!;
      if (this.highHead > 1024 && this.highHead * 2 > this.high.length) {
        this.high = this.high.slice(this.highHead);
        this.highHead = 0;
      }
      return item;
    }
    const item = this.normal[this.normalHead++]!;
    if (this.normalHead > 1024 && this.normalHead * 2 > this.normal.length) {
      this.normal = this.normal.slice(this.normalHead);
      this.normalHead = 0;
    }
    return item;
  }
}

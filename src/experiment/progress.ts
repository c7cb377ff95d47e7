// The progress line on stderr: which transport and profile run, the phase, its elapsed time and
// the delivery counts. On a terminal one line is rewritten in place; otherwise (CI logs, files) a
// line is printed at each phase change and every few seconds.

export interface ProgressCounters {
  connected: number;
  devices: number;
  delivered: number;
  published: number;
}

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

const TTY_REFRESH_MS = 500;
const LOG_REFRESH_MS = 5_000;

export class ProgressReporter {
  private label = '';
  private phase = '';
  private phaseStartedAt = 0;
  private counters: (() => ProgressCounters) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lineOpen = false;

  constructor(private readonly stream: ProgressStream) {}

  /** Starts reporting for one transport × profile pair. */
  begin(label: string, counters: () => ProgressCounters): void {
    this.label = label;
    this.counters = counters;
    this.timer = setInterval(() => this.render(), this.stream.isTTY ? TTY_REFRESH_MS : LOG_REFRESH_MS);
    this.timer.unref();
  }

  setPhase(phase: string): void {
    this.phase = phase;
    this.phaseStartedAt = Date.now();
    this.render();
  }

  /** Prints a whole line (a note or a result) without garbling the progress line. */
  note(text: string): void {
    this.clearLine();
    this.stream.write(`${text}\n`);
  }

  end(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.stream.isTTY) this.render();
    if (this.lineOpen) this.stream.write('\n');
    this.lineOpen = false;
    this.counters = null;
  }

  private render(): void {
    if (this.counters === null) return;
    const c = this.counters();
    const elapsed = ((Date.now() - this.phaseStartedAt) / 1000).toFixed(1);
    const line = `[${this.label}] ${this.phase} ${elapsed}s | connected ${c.connected}/${c.devices} | delivered ${c.delivered}/${c.published}`;
    if (this.stream.isTTY) {
      this.stream.write(`\r\x1b[2K${line}`);
      this.lineOpen = true;
    } else {
      this.stream.write(`${line}\n`);
    }
  }

  private clearLine(): void {
    if (this.lineOpen) this.stream.write('\r\x1b[2K');
    this.lineOpen = false;
  }
}

// Benchmark report types, the machine description, and small formatting helpers.
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface TargetCheck {
  name: string;
  target: string;
  measured: string;
  met: boolean;
}

export interface BenchReport {
  /** Short name used on the command line and in the section markers of docs/BENCHMARKS.md. */
  name: string;
  title: string;
  command: string;
  date: string;
  machine: string;
  /** Markdown body of the results section: tables and notes. */
  body: string;
  targets: TargetCheck[];
  /** One-line results for the console summary. */
  summary: string[];
}

export function describeMachine(): string {
  const cpus = os.cpus();
  const model = cpus[0]?.model.trim() ?? 'unknown CPU';
  const memoryGiB = (os.totalmem() / 2 ** 30).toFixed(0);
  return `${cpus.length} cores (${model}), ${memoryGiB} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}`;
}

export function isoDate(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

export function table(headers: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Formats with thousands separators and `digits` decimals. */
export function num(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return 'n/a';
  // A small negative value would otherwise round to "-0".
  const rounded = Math.abs(value) < 0.5 * 10 ** -digits ? 0 : value;
  return rounded.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function ratio(value: number, baseline: number): string {
  if (!(baseline > 0) || !Number.isFinite(value)) return 'n/a';
  return `${(value / baseline).toFixed(2)}×`;
}

export function bytes(value: number): string {
  if (Math.abs(value) >= 10 * 2 ** 20) return `${num(value / 2 ** 20, 0)} MiB`;
  if (Math.abs(value) >= 10 * 2 ** 10) return `${num(value / 2 ** 10, Math.abs(value) >= 100 * 2 ** 10 ? 0 : 1)} KiB`;
  return `${num(value, 0)} B`;
}

export function targetsTable(targets: TargetCheck[]): string {
  return table(
    ['target', 'goal', 'measured', 'met'],
    targets.map((t) => [t.name, t.target, t.measured, t.met ? 'yes' : '**no**']),
  );
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** True when `moduleUrl` is the script node was started with, so a bench file can run standalone. */
export function isMainModule(moduleUrl: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && fileURLToPath(moduleUrl) === path.resolve(entry);
}

/**
 * Reads a child process's memory and CPU from /proc (Linux). Everything returns undefined where
 * /proc is not available, so the benchmark still runs elsewhere and prints "n/a".
 */
import { readFileSync } from 'node:fs';

export interface MemorySample {
  /** Current resident set size, bytes. */
  rss: number;
  /** Peak resident set size since the process started (the kernel's high-water mark), bytes. */
  hwm: number;
}

export function readMemory(pid: number): MemorySample | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kib = (field: string): number | undefined => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return match ? Number(match[1]) * 1024 : undefined;
  };
  const rss = kib('VmRSS');
  const hwm = kib('VmHWM');
  return rss === undefined ? undefined : { rss, hwm: hwm ?? rss };
}

/** User + system CPU time of the process so far, in seconds. */
export function readCpuSeconds(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces; fields after it are space-separated.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 overall, i.e. 12 and 13 after the name.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? ticks / CLOCK_TICKS : undefined;
}

/** USER_HZ: 100 on every mainstream Linux build. */
const CLOCK_TICKS = 100;

/** Samples a process's RSS on an interval and keeps the peak, alongside the kernel's VmHWM. */
export class MemoryWatcher {
  private peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number, intervalMs = 200) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): MemorySample | undefined {
    const m = readMemory(this.pid);
    if (m) this.peak = Math.max(this.peak, m.rss, m.hwm);
    return m;
  }

  /** Stops sampling; the peak seen (max of sampled VmRSS and the final VmHWM), or undefined. */
  stop(): number | undefined {
    clearInterval(this.timer);
    this.sample();
    return this.peak > 0 ? this.peak : undefined;
  }
}

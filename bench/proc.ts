/**
 * Reads a child process's memory and CPU from /proc (Linux). Everything returns undefined where
 * /proc is not available, so the benchmark still runs elsewhere and prints "n/a".
 */
import { readFileSync, writeFileSync } from 'node:fs';

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

/**
 * Samples a process's RSS on an interval and keeps the peak, alongside the kernel's VmHWM.
 * `startWindow` starts the peak afresh when the load begins (the kernel's high-water mark is
 * reset through /proc/<pid>/clear_refs): a process's start, when Herald has its manifest worker
 * and its delivery thread loading at once, is not load. The peak since the process started
 * stays available (`sinceStart`).
 */
export class MemoryWatcher {
  private peak = 0;
  private peakBeforeWindow = 0;
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

  /**
   * From now on the peak is the window's. Where the high-water mark cannot be reset (not
   * Linux, or not allowed) the peak keeps counting from the start, which only overstates it.
   */
  startWindow(): void {
    this.sample();
    try {
      writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
    } catch {
      return;
    }
    this.peakBeforeWindow = Math.max(this.peakBeforeWindow, this.peak);
    this.peak = 0;
    this.sample();
  }

  /** Stops sampling; the peak seen (max of sampled VmRSS and the final VmHWM) since `startWindow`, or since the start; undefined if never read. */
  stop(): number | undefined {
    clearInterval(this.timer);
    this.sample();
    return this.peak > 0 ? this.peak : undefined;
  }

  /** The peak since the process started, the window's included. */
  get sinceStart(): number | undefined {
    const peak = Math.max(this.peak, this.peakBeforeWindow);
    return peak > 0 ? peak : undefined;
  }
}

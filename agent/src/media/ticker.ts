/**
 * One interval timer shared by every listener of the process. Each wake-up of the agent costs (an
 * idle Node process waking twice a second costs ~0.26 ms/s on the benchmark VM, BENCHMARKS.md
 * "Agent node process by number of sources"), and timers of the same period started at different
 * moments wake the process separately: so the monitors' once-a-second watchdogs share one, and a
 * box of four sources wakes for them as often as a box of one.
 */
export class SharedTicker {
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly everyMs: number) {}

  /** Runs `fn` every period from now on; returns its removal. */
  add(fn: () => void): () => void {
    this.listeners.add(fn);
    this.timer ??= setInterval(() => this.tick(), this.everyMs);
    return () => {
      this.listeners.delete(fn);
      if (this.listeners.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = null;
      }
    };
  }

  /** Listeners now (0: no timer runs). */
  size(): number {
    return this.listeners.size;
  }

  private tick(): void {
    // A copy: a listener may remove itself or another (a monitor stopping).
    for (const fn of [...this.listeners]) if (this.listeners.has(fn)) fn();
  }
}

/** The monitors' watchdog tick (docs/agent-media.md "Supervision": the stale-output watchdog). */
export const watchdogTicker = new SharedTicker(1000);

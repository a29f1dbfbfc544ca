import { setImmediate as nextTurn } from 'node:timers/promises'

/** How long a long piece of work keeps the event loop before it lets everything else run. */
export const SLICE_MS = 4

/**
 * Long work (an import, an export) done in slices: `due()` says when this slice's time is spent,
 * and `pause()` gives the event loop a turn (timers, I/O, other requests) before the next one.
 * No request then holds the loop for more than a few milliseconds, however big its book.
 */
export class TimeSlice {
  #start = performance.now()

  constructor(private readonly budgetMs = SLICE_MS) {}

  due(): boolean {
    return performance.now() - this.#start >= this.budgetMs
  }

  async pause(): Promise<void> {
    await nextTurn()
    this.#start = performance.now()
  }
}

import { TimeSlice } from '../lib/time-slice.js'

/**
 * Every item of a listing the store reads a batch at a time, each batch after the position of
 * the last item of the one before, read once the caller has taken that one. The time spent
 * between two items is the caller's too (formatting, writing to a socket that takes everything
 * at once): slices count it, so that no listing holds the event loop, however big the book.
 * `first` is a first batch read already, so that a store that cannot answer rejects before the
 * listing starts.
 */
export async function* inBatches<T, P>(
  read: (after: P | undefined) => Promise<readonly T[]>,
  size: number,
  positionOf: (last: T) => P,
  first?: readonly T[],
): AsyncGenerator<T> {
  const slice = new TimeSlice()
  let batch = first ?? (await read(undefined))
  for (;;) {
    for (const item of batch) {
      yield item
      if (slice.due()) await slice.pause()
    }
    const last = batch.at(-1)
    if (batch.length < size || last === undefined) return
    batch = await read(positionOf(last))
  }
}

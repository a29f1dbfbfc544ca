import type { Registry } from 'prom-client'

/** One series of a histogram: observing it is a loop over the buckets and two additions. */
export interface HistogramSeries {
  observe(value: number): void
}

interface SeriesState extends HistogramSeries {
  readonly labels: Readonly<Record<string, string>>
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  readonly counts: number[]
  sum: number
  count: number
}

export interface SeriesHistogramOptions<L extends string> {
  readonly name: string
  readonly help: string
  readonly labelNames: readonly L[]
  readonly buckets: readonly number[]
  readonly registers: readonly Registry[]
}

/** A value as prom-client reports it: the shape its registries read from every metric. */
interface MetricValue {
  readonly labels: Record<string, string | number>
  readonly sharedLabels?: Readonly<Record<string, string>>
  readonly value: number
  readonly metricName: string
  /** Always empty here; present as prom-client's histograms have it (null on buckets). */
  readonly exemplar: null | undefined
}

/**
 * A Prometheus histogram whose series are looked up once by their label values and then observed
 * directly. prom-client's Histogram checks the label names and hashes the labels on every
 * observation (a child from labels() does too), which cost a request more than its own handler;
 * here that happens once per series. It registers like any prom-client metric and reports the
 * same lines, in the same order, in the text format and in the JSON a cluster's primary sums.
 */
export class SeriesHistogram<L extends string> {
  readonly name: string
  readonly help: string
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly #labelNames: readonly L[]
  readonly #bounds: readonly number[]
  readonly #series = new Map<string, SeriesState>()

  constructor({ name, help, labelNames, buckets, registers }: SeriesHistogramOptions<L>) {
    this.name = name
    this.help = help
    this.#labelNames = labelNames
    this.#bounds = [...buckets].sort((a, b) => a - b)
    for (const registry of registers) registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0])
  }

  /**
   * The series of these label values, created at first use: one Map lookup by the values joined,
   * cheap enough to ask for on every observation. Kept only here, so that a reset of the
   * registry starts every series again.
   */
  series(labels: Readonly<Record<L, string>>): HistogramSeries {
    let key = ''
    for (const name of this.#labelNames) key += `${labels[name]}\u0000`
    let series = this.#series.get(key)
    if (!series) {
      series = newSeries(Object.fromEntries(this.#labelNames.map((name) => [name, labels[name]])), this.#bounds)
      this.#series.set(key, series)
    }
    return series
  }

  /** prom-client's text format reads this: bucket bounds as labels, the series' labels shared. */
  getForPromString(): Promise<{ name: string; help: string; type: string; aggregator: string; values: MetricValue[] }> {
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.#values(true) })
  }

  /** The JSON form (getMetricsAsJSON, cluster aggregation): every label in one object. */
  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: MetricValue[] }> {
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.#values(false) })
  }

  reset(): void {
    this.#series.clear()
  }

  #values(shared: boolean): MetricValue[] {
    const values: MetricValue[] = []
    const value = (labels: Record<string, string | number>, series: SeriesState, metricName: string, number: number): MetricValue => {
      const exemplar = 'le' in labels ? null : undefined
      return shared
        ? { labels, sharedLabels: series.labels, value: number, metricName, exemplar }
        : { value: number, metricName, exemplar, labels: { ...labels, ...series.labels } }
    }
    for (const series of this.#series.values()) {
      let cumulative = 0
      this.#bounds.forEach((bound, index) => {
        cumulative += series.counts[index] ?? 0
        values.push(value({ le: bound }, series, `${this.name}_bucket`, cumulative))
      })
      values.push(
        value({ le: '+Inf' }, series, `${this.name}_bucket`, series.count),
        value({}, series, `${this.name}_sum`, series.sum),
        value({}, series, `${this.name}_count`, series.count),
      )
    }
    return values
  }
}

function newSeries(labels: Readonly<Record<string, string>>, bounds: readonly number[]): SeriesState {
  const series: SeriesState = {
    labels,
    counts: bounds.map(() => 0).concat(0),
    sum: 0,
    count: 0,
    observe(value: number) {
      let index = 0
      while (index < bounds.length && value > (bounds[index] ?? Number.POSITIVE_INFINITY)) index++
      series.counts[index] = (series.counts[index] ?? 0) + 1
      series.sum += value
      series.count += 1
    },
  }
  return series
}

/**
 * The tags informer: one partitionable metric `tag:<key>` per configured
 * tag, value = the tag's value (upstream `informer/tags/tags.go`). With no
 * tags it issues a single invalid `tag:none` metric. The informer's name is
 * `tags`. After `stop()` metrics are invalid.
 */
import type { AbortOptions, Informer } from '../../interfaces.ts'
import { getLogger } from '../../observability/logging.ts'
import type { Metric, PeerId } from '../../types/index.ts'
import { type Clock, expireIn, makeMetric } from '../metric.ts'

const log = getLogger('tags')

/** The informer's name (upstream `tags.MetricName`). */
export const TAGS_INFORMER_NAME = 'tags'

export interface TagsInformerInit {
  /** metric time-to-live, milliseconds (upstream `metric_ttl`, default 30s). */
  metricTtlMs: number
  /** upstream `tags`, default `{"group":"default"}`. */
  tags: Record<string, string>
}

export interface TagsInformerComponents {
  peerId: PeerId
  clock?: Clock
}

export class TagsInformer implements Informer {
  private readonly init: TagsInformerInit
  private readonly components: TagsInformerComponents
  private stopped = false

  constructor(init: TagsInformerInit, components: TagsInformerComponents) {
    if (!(init.metricTtlMs > 0)) throw new Error('tags.metric_ttl is invalid')
    this.init = init
    this.components = components
  }

  async start(): Promise<void> {
    this.stopped = false
  }

  async stop(): Promise<void> {
    this.stopped = true
  }

  name(): string {
    return TAGS_INFORMER_NAME
  }

  async getMetrics(_options?: AbortOptions): Promise<Metric[]> {
    const peer = this.components.peerId
    const expire = expireIn(this.init.metricTtlMs, this.components.clock)
    const entries = Object.entries(this.init.tags)
    if (entries.length === 0 || this.stopped) {
      if (entries.length === 0) log.debug('no tags defined in tags informer')
      return [makeMetric({ name: 'tag:none', peer, valid: false, partitionable: true, expire })]
    }
    return entries.map(([k, v]) =>
      makeMetric({ name: `tag:${k}`, peer, value: v, valid: true, partitionable: true, expire })
    )
  }
}

/** Creates the tags informer (upstream `tags.New`). @throws Error on an invalid config. */
export function createTagsInformer(init: TagsInformerInit, components: TagsInformerComponents): TagsInformer {
  return new TagsInformer(init, components)
}

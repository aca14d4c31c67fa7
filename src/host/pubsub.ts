/**
 * Gossipsub on the cluster host, in the shape the components use
 * (`MonitorPubsub` of `monitor/pubsubmon`, the crdt broadcaster): publish
 * bytes to a topic; subscribe a handler that gets the data and the signer's
 * peer ID. Messages are signed and strictly verified by the host's
 * gossipsub, so `from` is the authenticated sender. Several handlers may
 * share a topic; the topic is left when its last handler unsubscribes.
 * Upstream: `go-libp2p-pubsub` as set up in `clusterhost.go` `newPubSub`.
 */
import { type GossipSub, type Message, TopicValidatorResult } from '@libp2p/gossipsub'
import { errorMessage } from '../errors.ts'
import { getLogger } from '../observability/logging.ts'

const log = getLogger('p2p')

export interface PubsubAdapter {
  /** Publishes `data` (resolves once handed to gossipsub; no peers is not an error). */
  publish(topic: string, data: Uint8Array): Promise<void>
  /** @returns the unsubscribe function (idempotent). */
  subscribe(topic: string, handler: (data: Uint8Array, from: string) => void): () => void
  /** Peer IDs known to be subscribed to `topic`. */
  subscribers(topic: string): string[]
  /**
   * Installs the topic validator (one per topic; upstream
   * `RegisterTopicValidator`): messages whose signer `accept` refuses are
   * neither delivered nor forwarded (gossipsub "ignore"). Unsigned messages
   * are always refused. @returns the function removing it.
   */
  validate(topic: string, accept: (from: string) => boolean): () => void
}

/** Anything carrying the host's gossipsub (a `ClusterHost` or its `libp2p`). */
export interface PubsubHost {
  libp2p: { services: { pubsub: GossipSub } }
}

export function createPubsubAdapter(host: PubsubHost): PubsubAdapter {
  const pubsub = host.libp2p.services.pubsub
  const handlers = new Map<string, Set<(data: Uint8Array, from: string) => void>>()
  let listening = false

  const onMessage = (evt: CustomEvent<Message>): void => {
    const msg = evt.detail
    const set = handlers.get(msg.topic)
    if (set === undefined) return
    if (msg.type !== 'signed') {
      log.debug(`dropping unsigned message on ${msg.topic}`)
      return
    }
    const from = msg.from.toString()
    for (const h of [...set]) {
      try {
        h(msg.data, from)
      } catch (err) {
        log.error(`pubsub handler for ${msg.topic}: ${errorMessage(err)}`)
      }
    }
  }

  return {
    async publish(topic: string, data: Uint8Array): Promise<void> {
      await pubsub.publish(topic, data)
    },
    subscribe(topic: string, handler: (data: Uint8Array, from: string) => void): () => void {
      if (!listening) {
        pubsub.addEventListener('message', onMessage)
        listening = true
      }
      let set = handlers.get(topic)
      if (set === undefined) {
        set = new Set()
        handlers.set(topic, set)
        pubsub.subscribe(topic)
      }
      set.add(handler)
      let done = false
      return () => {
        if (done) return
        done = true
        const s = handlers.get(topic)
        if (s === undefined) return
        s.delete(handler)
        if (s.size === 0) {
          handlers.delete(topic)
          try {
            pubsub.unsubscribe(topic)
          } catch (err) {
            log.debug(`unsubscribing ${topic}: ${errorMessage(err)}`)
          }
        }
        if (handlers.size === 0 && listening) {
          pubsub.removeEventListener('message', onMessage)
          listening = false
        }
      }
    },
    validate(topic: string, accept: (from: string) => boolean): () => void {
      const fn = (_peer: unknown, msg: Message): TopicValidatorResult => {
        if (msg.type !== 'signed') return TopicValidatorResult.Reject
        return accept(msg.from.toString()) ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore
      }
      pubsub.topicValidators.set(topic, fn)
      return () => {
        if (pubsub.topicValidators.get(topic) === fn) pubsub.topicValidators.delete(topic)
      }
    },
    subscribers(topic: string): string[] {
      return pubsub.getSubscribers(topic).map((p) => p.toString())
    }
  }
}

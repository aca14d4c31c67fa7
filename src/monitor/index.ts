/** The peer monitor: metrics store, expiry checker and the pubsub monitor (upstream `monitor/`). */
export * from './metrics/checker.ts'
export * from './metrics/store.ts'
export * from './metrics/window.ts'
export * from './pubsubmon/index.ts'

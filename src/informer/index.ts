/**
 * Informers: components that produce metrics about this peer
 * (upstream `informer/`). `numpin` exists upstream but is not registered
 * in v1.1.6, so it is not implemented.
 */
export * from './disk/index.ts'
export * from './metric.ts'
export * from './pinqueue/index.ts'
export * from './tags/index.ts'

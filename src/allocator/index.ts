/** Allocation: the balanced allocator, upstream's allocate() and the closest-peer helper. */
export * from './allocate.ts'
export * from './balanced/index.ts'
export * from './util.ts'

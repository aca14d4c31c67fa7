/**
 * In-memory datastore (tests, `--datastore memory`): datastore-core's
 * MemoryDatastore. Nothing survives the process.
 */
export { MemoryDatastore } from 'datastore-core'

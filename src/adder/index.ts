/**
 * The adder: `POST /add` end to end (upstream `adder/`). See
 * {@link createAddHandler} for the REST handler, {@link addEntries} for the
 * pipeline, `dag.ts` for kubo-compatible DAG building, `multipart.ts` for
 * the streamed upload format, `sink.ts` for block destinations.
 */
export {
  type AddDestinations,
  type AddOutput,
  type AddProgress,
  type AddResult,
  type AdderComponents,
  addEntries,
  destinationsOf,
  GC_EVERY_BYTES,
  PROGRESS_INCREMENT
} from './adder.ts'
export { BadCarError, type CarImportResult, importCar } from './car.ts'
export { type AddEntry, type Block, buildUnixfs, chunkerFor, type DagResult, importerOptions, postOrder, type PutBlock, Rehasher } from './dag.ts'
export { checkUploadPaths, type UploadOptions, uploadEntries, uploadSize } from './files.ts'
export { addOutputToJSON, createAddHandler } from './handler.ts'
export { HASH_NAMES, hasherFor } from './hashers.ts'
export { encodeMultipart, parseMultipart, queryEscape, queryUnescape, type UploadEntry } from './multipart.ts'
export { type AddRelay, checkedParts, importConfigRefusal, type KuboAddEvent, relayQuery, relayRefusal } from './relay.ts'
export { type AddUploadOptions, addUpload, type UploadComponents } from './upload.ts'
export { type AddParams, addParamsFromQuery, addParamsToQuery, defaultAddParams } from './params.ts'
export {
  BlockAdderError,
  batchedBlockStream,
  type BlockSink,
  type BlockSinkFactory,
  type BlockStreamConsumer,
  blockSinkFactory,
  fanoutBlockSink,
  streamBlockSink
} from './sink.ts'

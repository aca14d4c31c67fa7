/** The pinset over a datastore (upstream `state/`). */
export { pinFromProtobuf, pinToProtobuf, ZERO_DATE } from './codec.ts'
export { DsState, type DsStateInit } from './dsstate.ts'
export { exportState, type ImportOptions, importState, jsonValues } from './export.ts'
export { binaryToKeyString, cidToKeyString, keyStringToBinary, keyStringToCid } from './keys.ts'

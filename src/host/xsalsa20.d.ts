/** The parts of `xsalsa20` 1.2.0 (no published types in the install) used by src/host/xsalsa20-memory.ts. */
declare module 'xsalsa20' {
  interface XSalsa20 {
    update(input: Uint8Array, output?: Uint8Array): Uint8Array
    finalize(): void
  }
  function xsalsa20(nonce: Uint8Array, key: Uint8Array): XSalsa20
  export default xsalsa20
}

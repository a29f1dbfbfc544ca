/** Bytes as base64, read where they are (a Buffer over the same memory, not a copy). */
export function base64Of(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
}

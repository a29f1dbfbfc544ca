import { deflateSync } from 'node:zlib'
import sharp from 'sharp'

/** Images for photo tests, made here rather than kept as files: what each is shows in its making. */

/** A JPEG as a phone writes one: large, and stored sideways with an EXIF orientation (6: turn 90° clockwise) to show it upright. */
export function aPhoneJpeg(width = 4000, height = 3000): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#884422' } }).jpeg({ quality: 90 }).withMetadata({ orientation: 6 }).toBuffer()
}

/** A PNG with transparency. */
export function aPng(width = 300, height = 200): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 4, background: { r: 0, g: 128, b: 255, alpha: 0.5 } } }).png().toBuffer()
}

export function aWebp(width = 800, height = 800): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#22aa66' } }).webp().toBuffer()
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

function crc32(bytes: Buffer): number {
  let c = 0xffffffff
  for (const byte of bytes) c = (CRC_TABLE[(c ^ byte) & 0xff] ?? 0) ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4)
  length.writeUInt32BE(data.length)
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(body))
  return Buffer.concat([length, body, crc])
}

/**
 * A decompression bomb: a valid PNG of about a kilobyte that says it is side × side pixels of
 * grey (ten billion by default), with the first rows of zeros deflated.
 */
export function aPngBomb(side = 100_000): Buffer {
  const header = Buffer.alloc(13)
  header.writeUInt32BE(side, 0)
  header.writeUInt32BE(side, 4)
  header[8] = 8
  header[9] = 0
  const rows = deflateSync(Buffer.alloc((side + 1) * 10))
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), pngChunk('IHDR', header), pngChunk('IDAT', rows), pngChunk('IEND', Buffer.alloc(0))])
}

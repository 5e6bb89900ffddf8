// @ts-check
// A minimal PNG decoder (8-bit RGB/RGBA, non-interlaced: what Chromium screenshots are) so tests can
// check pixels of real screenshots, plus helpers to count pixels near a colour.
'use strict'

const zlib = require('node:zlib')

/** @param {Buffer} buf @returns {{ width: number, height: number, channels: number, data: Buffer }} */
function decodePng (buf) {
  if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG')
  let off = 8
  let width = 0
  let height = 0
  let channels = 0
  /** @type {Buffer[]} */
  const idat = []
  while (off < buf.length) {
    const len = buf.readUInt32BE(off)
    const type = buf.toString('latin1', off + 4, off + 8)
    const body = buf.subarray(off + 8, off + 8 + len)
    if (type === 'IHDR') {
      width = body.readUInt32BE(0)
      height = body.readUInt32BE(4)
      const depth = body[8]
      const color = body[9]
      if (depth !== 8 || body[12] !== 0) throw new Error(`unsupported PNG: depth ${depth}, interlace ${body[12]}`)
      channels = color === 6 ? 4 : color === 2 ? 3 : 0
      if (!channels) throw new Error(`unsupported PNG colour type ${color}`)
    } else if (type === 'IDAT') {
      idat.push(body)
    } else if (type === 'IEND') {
      break
    }
    off += 12 + len
  }
  const raw = zlib.inflateSync(Buffer.concat(idat))
  const stride = width * channels
  const data = Buffer.alloc(height * stride)
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1))
    const out = data.subarray(y * stride, (y + 1) * stride)
    const prev = y ? data.subarray((y - 1) * stride, y * stride) : Buffer.alloc(stride)
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? out[x - channels] : 0
      const b = prev[x]
      const c = x >= channels ? prev[x - channels] : 0
      let v = line[x]
      if (filter === 1) v += a
      else if (filter === 2) v += b
      else if (filter === 3) v += (a + b) >> 1
      else if (filter === 4) {
        const p = a + b - c
        const pa = Math.abs(p - a)
        const pb = Math.abs(p - b)
        const pc = Math.abs(p - c)
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c
      }
      out[x] = v & 0xff
    }
  }
  return { width, height, channels, data }
}

/** @param {string} hex */
function rgb (hex) {
  const n = parseInt(hex.slice(1), 16)
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255]
}

/**
 * Counts pixels within `tolerance` of a colour in each channel.
 * @param {ReturnType<typeof decodePng>} img @param {string} hex @param {number} [tolerance]
 */
function countColor (img, hex, tolerance = 16) {
  const [r, g, b] = rgb(hex)
  let n = 0
  for (let i = 0; i < img.data.length; i += img.channels) {
    if (Math.abs(img.data[i] - r) <= tolerance && Math.abs(img.data[i + 1] - g) <= tolerance && Math.abs(img.data[i + 2] - b) <= tolerance) n++
  }
  return n
}

/** Number of distinct colours (a blank image has one or two). @param {ReturnType<typeof decodePng>} img */
function distinctColors (img) {
  const seen = new Set()
  for (let i = 0; i < img.data.length; i += img.channels) seen.add((img.data[i] << 16) | (img.data[i + 1] << 8) | img.data[i + 2])
  return seen.size
}

module.exports = { decodePng, countColor, distinctColors }

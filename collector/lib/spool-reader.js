// @ts-check
// Reads spool records from a checkpoint (segment, offset) onward, for the store worker.
// A segment is closed once a higher-numbered one exists; a torn or corrupt tail of a closed
// segment (a crash mid-write, never acknowledged) is skipped, while the open segment is re-read later.
'use strict'

const fs = require('node:fs')
const path = require('node:path')
const zlib = require('node:zlib')
const { listSegments, segmentName, HEADER_BYTES, MAGIC, TYPES } = require('./spool.js')

const TYPE_NAMES = Object.fromEntries(Object.entries(TYPES).map(([k, v]) => [v, k]))

/**
 * @typedef {{ segment: number, offset: number }} Checkpoint
 * @typedef {{ type: string, payload: Buffer, end: Checkpoint }} SpoolRecord  end: the checkpoint just after it
 * Reads up to maxBytes of whole records after `from`.
 * @param {string} dir @param {Checkpoint} from @param {number} maxBytes
 * @returns {{ records: SpoolRecord[], next: Checkpoint, finished: number[] }} finished: closed segments fully read
 */
function readFrom (dir, from, maxBytes) {
  const segments = listSegments(dir)
  /** @type {SpoolRecord[]} */
  const records = []
  /** @type {number[]} */
  const finished = []
  let cp = { ...from }
  if (segments.length && cp.segment < segments[0]) cp = { segment: segments[0], offset: 0 }
  let bytes = 0
  for (let i = 0; i < segments.length && bytes < maxBytes; i++) {
    const n = segments[i]
    if (n < cp.segment) { finished.push(n); continue }
    const closed = i < segments.length - 1
    const file = path.join(dir, segmentName(n))
    let fd
    try { fd = fs.openSync(file, 'r') } catch { continue }
    let atEnd = false
    try {
      const size = fs.fstatSync(fd).size
      let off = cp.offset
      const header = Buffer.alloc(HEADER_BYTES)
      while (bytes < maxBytes) {
        if (size - off < HEADER_BYTES) { atEnd = true; break }
        fs.readSync(fd, header, 0, HEADER_BYTES, off)
        const len = header.readUInt32BE(2)
        if (header[0] !== MAGIC || !TYPE_NAMES[header[1]]) { atEnd = true; break }
        if (size - off - HEADER_BYTES < len) { atEnd = true; break }
        const payload = Buffer.allocUnsafe(len)
        fs.readSync(fd, payload, 0, len, off + HEADER_BYTES)
        if (zlib.crc32(payload) !== header.readUInt32BE(6)) { atEnd = true; break }
        off += HEADER_BYTES + len
        records.push({ type: TYPE_NAMES[header[1]], payload, end: { segment: n, offset: off } })
        bytes += HEADER_BYTES + len
      }
      cp = { segment: n, offset: off }
    } finally {
      fs.closeSync(fd)
    }
    if (!(atEnd && closed)) break
    finished.push(n)
    cp = { segment: segments[i + 1], offset: 0 }
  }
  return { records, next: cp, finished }
}

module.exports = { readFrom }

// @ts-check
// The durable, append-only spool between intake and store: numbered segment files of
// length-prefixed, CRC-checked records. append() resolves only after the bytes are fsynced
// (group commit: concurrent appends share one write + fdatasync). Reading is in spool-reader.js.
'use strict'

const fs = require('node:fs')
const path = require('node:path')
const zlib = require('node:zlib')

const MAGIC = 0xa7
const HEADER_BYTES = 10 // magic(1) type(1) length(4) crc32(4)
const TYPES = { spans: 1, logs: 2, metrics: 3 }
const SEGMENT_RE = /^(\d{12})\.spool$/

class SpoolFullError extends Error {
  constructor (message = 'spool is full') {
    super(message)
    this.code = 'SPOOL_FULL'
  }
}

/** @param {number} n */
function segmentName (n) {
  return String(n).padStart(12, '0') + '.spool'
}

/** @param {string} dir @returns {number[]} segment numbers, ascending */
function listSegments (dir) {
  const out = []
  for (const f of fs.readdirSync(dir)) {
    const m = SEGMENT_RE.exec(f)
    if (m) out.push(Number(m[1]))
  }
  return out.sort((a, b) => a - b)
}

/** @param {keyof typeof TYPES} type @param {Buffer} payload */
function encodeRecord (type, payload) {
  const rec = Buffer.allocUnsafe(HEADER_BYTES + payload.length)
  rec[0] = MAGIC
  rec[1] = TYPES[type]
  rec.writeUInt32BE(payload.length, 2)
  rec.writeUInt32BE(zlib.crc32(payload), 6)
  payload.copy(rec, HEADER_BYTES)
  return rec
}

class Spool {
  #dir
  #maxBytes
  #segmentBytes
  /** @type {fs.promises.FileHandle | null} */
  #fh = null
  #segment = 0
  #size = 0
  /** bytes of each segment still on disk */
  #sizes = new Map()
  #consumed = { segment: 0, offset: 0 }
  /** @type {{ rec: Buffer, resolve: () => void, reject: (err: Error) => void }[]} */
  #queue = []
  #queuedBytes = 0
  #flushing = false
  #broken = false
  #closed = false

  /** @param {{ dir: string, maxBytes: number, segmentBytes?: number }} opts */
  constructor ({ dir, maxBytes, segmentBytes }) {
    this.#dir = dir
    this.#maxBytes = maxBytes
    this.#segmentBytes = segmentBytes ?? Math.max(64 * 1024, Math.min(16 * 1024 * 1024, Math.floor(maxBytes / 8)))
  }

  get dir () { return this.#dir }

  /** Opens a fresh segment; older segments (possibly torn by a crash) stay for the reader. */
  async open () {
    fs.mkdirSync(this.#dir, { recursive: true }) // its parent, the data directory, exists
    const existing = listSegments(this.#dir)
    for (const n of existing) this.#sizes.set(n, fs.statSync(path.join(this.#dir, segmentName(n))).size)
    if (existing.length) this.#consumed = { segment: existing[0], offset: 0 }
    await this.#rotate((existing.at(-1) ?? 0) + 1)
  }

  /** Bytes appended but not yet consumed by the store worker. */
  get pendingBytes () {
    let total = 0
    for (const [n, size] of this.#sizes) {
      if (n > this.#consumed.segment) total += size
      else if (n === this.#consumed.segment) total += Math.max(0, size - this.#consumed.offset)
    }
    return total
  }

  get maxBytes () { return this.#maxBytes }

  /** Called with the worker's committed checkpoint; forgets segments it has deleted. */
  /** @param {number} segment @param {number} offset */
  consumed (segment, offset) {
    this.#consumed = { segment, offset }
    for (const n of [...this.#sizes.keys()]) if (n < segment) this.#sizes.delete(n)
  }

  /**
   * Appends one record; resolves once it is on disk (fdatasync), rejects with
   * SpoolFullError when the backlog would exceed maxBytes, or with the I/O error (e.g. ENOSPC).
   * @param {keyof typeof TYPES} type @param {Buffer} payload @returns {Promise<void>}
   */
  append (type, payload) {
    if (this.#closed) return Promise.reject(new Error('spool is closed'))
    const rec = encodeRecord(type, payload)
    if (this.pendingBytes + this.#queuedBytes + rec.length > this.#maxBytes) {
      return Promise.reject(new SpoolFullError())
    }
    this.#queuedBytes += rec.length
    return new Promise((resolve, reject) => {
      this.#queue.push({ rec, resolve, reject })
      if (!this.#flushing) this.#flush()
    })
  }

  async #flush () {
    this.#flushing = true
    while (this.#queue.length) {
      const batch = this.#queue.splice(0)
      const buf = batch.length === 1 ? batch[0].rec : Buffer.concat(batch.map((b) => b.rec))
      try {
        if (this.#broken || this.#size >= this.#segmentBytes) await this.#rotate(this.#segment + 1)
        await this.#writeDurably(buf)
        for (const b of batch) b.resolve()
      } catch (err) {
        for (const b of batch) b.reject(/** @type {Error} */ (err))
      } finally {
        this.#queuedBytes -= buf.length
      }
    }
    this.#flushing = false
  }

  /** @param {Buffer} buf */
  async #writeDurably (buf) {
    const fh = /** @type {fs.promises.FileHandle} */ (this.#fh)
    const before = this.#size
    try {
      let off = 0
      while (off < buf.length) {
        const { bytesWritten } = await fh.write(buf, off, buf.length - off, before + off)
        off += bytesWritten
      }
      await fh.datasync()
    } catch (err) {
      // Leave no torn record behind; if even that fails, never append to this segment again.
      this.#broken = true
      try { await fh.truncate(before) } catch {}
      throw err
    }
    this.#size += buf.length
    this.#sizes.set(this.#segment, this.#size)
  }

  /** @param {number} n */
  async #rotate (n) {
    if (this.#fh) await this.#fh.close()
    this.#fh = null
    const fh = await fs.promises.open(path.join(this.#dir, segmentName(n)), 'wx')
    this.#fh = fh
    this.#segment = n
    this.#size = 0
    this.#broken = false
    this.#sizes.set(n, 0)
    // Make the new directory entry durable so the reader always finds the segment after a crash.
    try {
      const dh = await fs.promises.open(this.#dir, 'r')
      try { await dh.sync() } finally { await dh.close() }
    } catch {}
  }

  async close () {
    this.#closed = true
    while (this.#flushing) await new Promise((resolve) => setTimeout(resolve, 5))
    if (this.#fh) await this.#fh.close()
    this.#fh = null
  }
}

module.exports = { Spool, SpoolFullError, encodeRecord, listSegments, segmentName, HEADER_BYTES, MAGIC, TYPES }

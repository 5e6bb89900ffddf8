// @ts-check
// Reads a request body with limits: at most maxBytes on the wire and, for gzip, at most maxBytes
// after streaming decompression (a gzip bomb is cut off at the cap, never inflated in full),
// within timeoutMs. Rejects with an HttpError carrying the status to answer.
'use strict'

const zlib = require('node:zlib')

class HttpError extends Error {
  /** @param {number} status @param {string} message @param {Record<string, string>} [headers] */
  constructor (status, message, headers = {}) {
    super(message)
    this.status = status
    this.headers = headers
  }
}

/**
 * @param {import('node:http').IncomingMessage} req
 * @param {{ maxBytes: number, timeoutMs: number, gzip: boolean }} opts
 * @returns {Promise<Buffer>}
 */
function readBody (req, { maxBytes, timeoutMs, gzip }) {
  return new Promise((resolve, reject) => {
    /** @type {Buffer[]} */
    const chunks = []
    let wire = 0
    let size = 0
    let done = false
    const gunzip = gzip ? zlib.createGunzip() : null

    const finish = (/** @type {Error | null} */ err, /** @type {Buffer} */ buf = Buffer.alloc(0)) => {
      if (done) return
      done = true
      clearTimeout(timer)
      req.off('data', onWire)
      req.off('end', onWireEnd)
      req.off('error', onError)
      req.off('aborted', onAborted)
      if (gunzip) {
        gunzip.off('data', onData)
        gunzip.destroy()
      }
      if (err) {
        chunks.length = 0
        req.pause()
        reject(err)
      } else {
        resolve(buf)
      }
    }
    const tooLarge = () => finish(new HttpError(413, `request body exceeds ${maxBytes} bytes${gzip ? ' (before or after decompression)' : ''}`))
    const timer = setTimeout(() => finish(new HttpError(408, `request body not received within ${timeoutMs} ms`)), timeoutMs)

    const onData = (/** @type {Buffer} */ chunk) => {
      size += chunk.length
      if (size > maxBytes) return tooLarge()
      chunks.push(chunk)
    }
    const onWire = (/** @type {Buffer} */ chunk) => {
      wire += chunk.length
      if (wire > maxBytes) return tooLarge()
      if (gunzip) {
        // Backpressure: decompress one wire chunk at a time so the cap is checked as output appears.
        if (!gunzip.write(chunk)) {
          req.pause()
          gunzip.once('drain', () => { if (!done) req.resume() })
        }
      } else {
        onData(chunk)
      }
    }
    const onWireEnd = () => {
      if (gunzip) gunzip.end()
      else finish(null, Buffer.concat(chunks, size))
    }
    const onError = () => finish(new HttpError(400, 'request body could not be read'))
    const onAborted = () => finish(new HttpError(400, 'request aborted'))

    if (gunzip) {
      gunzip.on('data', onData)
      gunzip.on('end', () => finish(null, Buffer.concat(chunks, size)))
      gunzip.on('error', (err) => finish(new HttpError(400, `invalid gzip body: ${err.message}`)))
    }
    req.on('data', onWire)
    req.on('end', onWireEnd)
    req.on('error', onError)
    req.on('aborted', onAborted)
  })
}

module.exports = { readBody, HttpError }

// The raw JSON of one traces export request, built as spans end. A queued span costs its encoded bytes in a
// Buffer outside the JS heap, instead of a span object and attribute strings that survive young-generation
// collections while they wait (which made V8 grow the young generation, and the process's RSS, under load).

// UTF-8 needs at most 3 bytes per UTF-16 code unit (a surrogate pair: 4 bytes for 2 units).
const MAX_BYTES_PER_UNIT = 3
const COMMA = 0x2c

export class SpanBatch {
  readonly #tail: Buffer
  #buf: Buffer
  /** Spans in the batch. */
  count = 0
  /** Bytes written so far: the document head and the spans, without the tail. */
  bytes: number

  /** head: the document up to the spans array's `[`; tail: what closes it; buf: where to write (grown as needed). */
  constructor (head: Buffer, tail: Buffer, buf: Buffer) {
    this.#tail = tail
    this.#buf = buf.length >= head.length + tail.length ? buf : Buffer.allocUnsafeSlow(head.length + tail.length)
    this.bytes = head.copy(this.#buf, 0)
  }

  /** Append one encoded span; false (nothing written) when the document would exceed maxBytes. */
  append (json: string, maxBytes: number): boolean {
    const comma = this.count === 0 ? 0 : 1
    const room = this.#buf.length - this.#tail.length
    let need = json.length * MAX_BYTES_PER_UNIT + comma
    // The worst case is checked first; the exact size is measured only near a limit.
    if (this.bytes + need > room || this.bytes + need + this.#tail.length > maxBytes) {
      need = Buffer.byteLength(json) + comma
      if (this.bytes + need + this.#tail.length > maxBytes) return false
      if (this.bytes + need > room) this.#grow(this.bytes + need + this.#tail.length)
    }
    const buf = this.#buf
    if (comma === 1) buf[this.bytes++] = COMMA
    this.bytes += buf.write(json, this.bytes)
    this.count++
    return true
  }

  /** The whole document (a view of the buffer: valid until the buffer is reused). */
  finish (): Buffer {
    const end = this.bytes + this.#tail.copy(this.#buf, this.bytes)
    return this.#buf.subarray(0, end)
  }

  /** The buffer, for reuse by a later batch once this one's document is no longer needed. */
  get buffer (): Buffer {
    return this.#buf
  }

  #grow (min: number): void {
    const next = Buffer.allocUnsafeSlow(Math.max(min, this.#buf.length * 2))
    this.#buf.copy(next, 0, 0, this.bytes)
    this.#buf = next
  }
}

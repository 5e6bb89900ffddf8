// Trace and span ids: lowercase hex drawn from a pooled random buffer (one randomFillSync per 512 ids).
import { randomFillSync } from 'node:crypto'

const POOL_SIZE = 4096
const pool = Buffer.allocUnsafe(POOL_SIZE)
let offset = POOL_SIZE

function take (bytes: number): number {
  if (offset + bytes > POOL_SIZE) {
    randomFillSync(pool)
    offset = 0
  }
  const at = offset
  offset += bytes
  return at
}

/** A 16-byte trace id as 32 lowercase hex characters; never all zeros. */
export function newTraceId (): string {
  const at = take(16)
  const id = pool.toString('hex', at, at + 16)
  return id === '00000000000000000000000000000000' ? newTraceId() : id
}

/** An 8-byte span id as 16 lowercase hex characters; never all zeros. */
export function newSpanId (): string {
  const at = take(8)
  const id = pool.toString('hex', at, at + 8)
  return id === '0000000000000000' ? newSpanId() : id
}

// Trace and span ids: lowercase hex drawn from a pooled random buffer (one randomFillSync and one hex
// conversion per 4 KiB, then ids are substrings of that hex: no per-id conversion call).
import { randomFillSync } from 'node:crypto'

const POOL_SIZE = 4096
const pool = Buffer.allocUnsafe(POOL_SIZE)
let hex = ''
let offset = POOL_SIZE

// Offset into `hex` of the next `bytes` random bytes' digits.
function take (bytes: number): number {
  if (offset + bytes > POOL_SIZE) {
    randomFillSync(pool)
    hex = pool.toString('hex')
    offset = 0
  }
  const at = offset
  offset += bytes
  return at * 2
}

/** A 16-byte trace id as 32 lowercase hex characters; never all zeros. */
export function newTraceId (): string {
  const at = take(16)
  const id = hex.slice(at, at + 32)
  return id === '00000000000000000000000000000000' ? newTraceId() : id
}

/** An 8-byte span id as 16 lowercase hex characters; never all zeros. */
export function newSpanId (): string {
  const at = take(8)
  const id = hex.slice(at, at + 16)
  return id === '0000000000000000' ? newSpanId() : id
}

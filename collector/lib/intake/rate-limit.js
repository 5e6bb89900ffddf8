// @ts-check
// Token-bucket rate limit per key (token, remote address or service name). Memory is bounded:
// idle full buckets are forgotten, and the table never grows past maxKeys.
'use strict'

class RateLimiter {
  #perSecond
  #burst
  #maxKeys
  /** @type {Map<string, { tokens: number, at: number }>} */
  #buckets = new Map()

  /** @param {{ perSecond: number, burst: number, maxKeys?: number }} opts */
  constructor ({ perSecond, burst, maxKeys = 10000 }) {
    this.#perSecond = perSecond
    this.#burst = burst
    this.#maxKeys = maxKeys
  }

  /**
   * Takes one token for key. Returns 0 when allowed, else the seconds to wait (≥ 1).
   * @param {string} key @param {number} [now]
   */
  take (key, now = Date.now()) {
    if (!(this.#perSecond > 0)) return 0
    let b = this.#buckets.get(key)
    if (!b) {
      if (this.#buckets.size >= this.#maxKeys) this.#sweep(now)
      b = { tokens: this.#burst, at: now }
      this.#buckets.set(key, b)
    }
    b.tokens = Math.min(this.#burst, b.tokens + ((now - b.at) / 1000) * this.#perSecond)
    b.at = now
    if (b.tokens >= 1) {
      b.tokens -= 1
      return 0
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.#perSecond))
  }

  /** @param {number} now */
  #sweep (now) {
    for (const [k, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.#perSecond >= this.#burst) this.#buckets.delete(k)
    }
    // Still full (a flood of distinct keys): drop the oldest half rather than grow.
    if (this.#buckets.size >= this.#maxKeys) {
      let n = Math.floor(this.#maxKeys / 2)
      for (const k of this.#buckets.keys()) {
        if (n-- <= 0) break
        this.#buckets.delete(k)
      }
    }
  }
}

module.exports = { RateLimiter }

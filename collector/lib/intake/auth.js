// @ts-check
// Bearer-token check in constant time (independent of where or whether the tokens differ, and of length).
'use strict'

const crypto = require('node:crypto')

/** @param {string} s */
function digest (s) {
  return crypto.createHash('sha256').update(s).digest()
}

/**
 * @param {string | null | undefined} token configured token; null/empty disables auth
 * @returns {(authorization: string | undefined) => boolean}
 */
function createAuth (token) {
  if (!token) return () => true
  const expected = digest(`Bearer ${token}`)
  return (authorization) => crypto.timingSafeEqual(digest(authorization ?? ''), expected)
}

module.exports = { createAuth }

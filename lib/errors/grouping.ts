// Error grouping: a stable key (type + where it broke, never line numbers or variable message parts) and the culprit frame.
import { createHash } from 'node:crypto'
import type { StackFrame } from './stack'

const KEY_HEX_LENGTH = 32
const LIBRARY_FRAMES_IN_KEY = 3
const MAX_MESSAGE_IN_KEY = 2048

/**
 * A function name as it identifies code. V8 prefixes the receiver's type, which depends on the call
 * path (`Object.totalOf` when called as `bugs.totalOf()`, `totalOf` when imported; `Timeout.<anonymous>`
 * vs `Immediate.<anonymous>` for one callback), so only the last part is kept. `[as x]` aliases are
 * already gone (the parser drops them).
 */
function normalizeFunction (fn: string | null): string {
  if (fn === null) return ''
  const dot = fn.lastIndexOf('.')
  return dot === -1 || fn.startsWith('new ') ? fn : fn.slice(dot + 1)
}

/** A library frame's file without the part of the path that varies between installs (pnpm store dirs, versions). */
function libraryFile (file: string | null): string {
  if (file === null) return ''
  const unix = file.replace(/\\/g, '/')
  const at = unix.lastIndexOf('node_modules/')
  return at === -1 ? unix : unix.slice(at + 'node_modules/'.length)
}

function appFile (file: string | null): string {
  return file === null ? '' : file.replace(/\\/g, '/')
}

function isDigit (c: number): boolean {
  return c >= 48 && c <= 57
}

function isHex (c: number): boolean {
  return isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70)
}

function isWordChar (c: number): boolean {
  return isDigit(c) || (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95
}

/**
 * A message with its variable parts replaced, so `user 42 not found` and `user 7 not found` match:
 * quoted strings → `<str>`, uuids and hex runs (0x…, or 8+ hex digits with a digit) → `<hex>`,
 * numbers → `<num>`. Single pass, linear time.
 */
export function normalizeMessage (message: string): string {
  const s = message.length > MAX_MESSAGE_IN_KEY ? message.slice(0, MAX_MESSAGE_IN_KEY) : message
  const n = s.length
  let out = ''
  let i = 0
  while (i < n) {
    const c = s.charCodeAt(i)
    if ((c === 39 || c === 34 || c === 96) && (i === 0 || !isWordChar(s.charCodeAt(i - 1)))) {
      // A quoted value: up to the same quote (not an apostrophe in "don't", which follows a letter).
      const close = s.indexOf(s[i], i + 1)
      if (close !== -1 && close - i <= 512) {
        out += '<str>'
        i = close + 1
        continue
      }
    }
    if (isWordChar(c) && (i === 0 || !isWordChar(s.charCodeAt(i - 1)))) {
      if (c === 48 && (s.charCodeAt(i + 1) | 0x20) === 120 && isHex(s.charCodeAt(i + 2))) {
        let j = i + 2
        while (j < n && isHex(s.charCodeAt(j))) j++
        if (j >= n || !isWordChar(s.charCodeAt(j))) {
          out += '<hex>'
          i = j
          continue
        }
      }
      // A run of hex digits and dashes holding a digit, 8+ long: a uuid, hash or id.
      let j = i
      let digits = 0
      while (j < n) {
        const d = s.charCodeAt(j)
        if (isDigit(d)) digits++
        else if (!isHex(d) && d !== 45) break
        j++
      }
      if (digits > 0 && j - i >= 8 && (j >= n || !isWordChar(s.charCodeAt(j)))) {
        out += '<hex>'
        i = j
        continue
      }
      // Otherwise a word: a number when it is all digits (decimals included), else copied whole.
      j = i
      let allDigits = true
      while (j < n) {
        const d = s.charCodeAt(j)
        if (isDigit(d) || (allDigits && d === 46 && j > i && isDigit(s.charCodeAt(j + 1)))) {
          j++
        } else if (isWordChar(d)) {
          allDigits = false
          j++
        } else {
          break
        }
      }
      out += allDigits ? '<num>' : s.slice(i, j)
      i = j
      continue
    }
    out += s[i]
    i++
  }
  return out
}

function hash (text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, KEY_HEX_LENGTH)
}

/**
 * The grouping key of an error. It hashes the type and the top application frame's function and
 * relative file, and no line/column or message: the same bug keeps its key across deploys, requests
 * and call paths. Without application frames it hashes the top library frames (path from the
 * package on); without any frame, the message with its variable parts normalized.
 */
export function groupingKey (type: string, frames: readonly StackFrame[], message = ''): string {
  const top = frames.find((f) => f.inApp)
  if (top !== undefined) {
    return hash(`app\n${type}\n${normalizeFunction(top.function)}\n${appFile(top.file)}`)
  }
  let text = `lib\n${type}`
  let used = 0
  for (const f of frames) {
    if (!f.library) continue
    text += `\n${normalizeFunction(f.function)}\n${libraryFile(f.file)}`
    if (++used === LIBRARY_FRAMES_IN_KEY) break
  }
  if (used > 0) return hash(text)
  return hash(`msg\n${type}\n${normalizeMessage(message)}`)
}

/** The top application frame as `functionName (relative/path.js:line)`; null when there is none. */
export function culprit (frames: readonly StackFrame[]): string | null {
  const top = frames.find((f) => f.inApp)
  if (top === undefined) return null
  const where = (top.file ?? '') + (top.line === null ? '' : ':' + top.line)
  return `${top.function ?? '<anonymous>'} (${where})`
}

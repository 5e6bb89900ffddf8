'use strict'
// A minimal MessagePack decoder: enough to count the spans dd-trace ships (v0.4 traces are arrays of maps).

function decode (buf) {
  let pos = 0
  const str = (n) => { const s = buf.toString('utf8', pos, pos + n); pos += n; return s }
  const bin = (n) => { const b = buf.subarray(pos, pos + n); pos += n; return b }
  const arr = (n) => { const a = new Array(n); for (let i = 0; i < n; i++) a[i] = read(); return a }
  const map = (n) => { const m = {}; for (let i = 0; i < n; i++) { const k = read(); m[k] = read() } return m }
  function read () {
    const b = buf[pos++]
    if (b <= 0x7f) return b
    if (b >= 0x80 && b <= 0x8f) return map(b & 0x0f)
    if (b >= 0x90 && b <= 0x9f) return arr(b & 0x0f)
    if (b >= 0xa0 && b <= 0xbf) return str(b & 0x1f)
    if (b >= 0xe0) return b - 0x100
    let v
    switch (b) {
      case 0xc0: return null
      case 0xc2: return false
      case 0xc3: return true
      case 0xc4: v = buf.readUInt8(pos); pos += 1; return bin(v)
      case 0xc5: v = buf.readUInt16BE(pos); pos += 2; return bin(v)
      case 0xc6: v = buf.readUInt32BE(pos); pos += 4; return bin(v)
      case 0xca: v = buf.readFloatBE(pos); pos += 4; return v
      case 0xcb: v = buf.readDoubleBE(pos); pos += 8; return v
      case 0xcc: return buf[pos++]
      case 0xcd: v = buf.readUInt16BE(pos); pos += 2; return v
      case 0xce: v = buf.readUInt32BE(pos); pos += 4; return v
      case 0xcf: v = buf.readBigUInt64BE(pos); pos += 8; return v
      case 0xd0: v = buf.readInt8(pos); pos += 1; return v
      case 0xd1: v = buf.readInt16BE(pos); pos += 2; return v
      case 0xd2: v = buf.readInt32BE(pos); pos += 4; return v
      case 0xd3: v = buf.readBigInt64BE(pos); pos += 8; return v
      case 0xd9: v = buf.readUInt8(pos); pos += 1; return str(v)
      case 0xda: v = buf.readUInt16BE(pos); pos += 2; return str(v)
      case 0xdb: v = buf.readUInt32BE(pos); pos += 4; return str(v)
      case 0xdc: v = buf.readUInt16BE(pos); pos += 2; return arr(v)
      case 0xdd: v = buf.readUInt32BE(pos); pos += 4; return arr(v)
      case 0xde: v = buf.readUInt16BE(pos); pos += 2; return map(v)
      case 0xdf: v = buf.readUInt32BE(pos); pos += 4; return map(v)
      default: throw new Error('msgpack: unsupported type 0x' + b.toString(16) + ' at ' + (pos - 1))
    }
  }
  return read()
}

module.exports = { decode }

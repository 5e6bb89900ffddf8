// wrap/unwrap a method in place, keeping what the app observes of it (name, length, own properties).

const kOriginal = Symbol('apm.original')

type AnyFn = (...args: any[]) => any

/** Replace obj[name] with makeWrapper(original). Returns false (and changes nothing) when it is not a function. */
export function wrap<T extends object> (obj: T, name: string, makeWrapper: (original: AnyFn) => AnyFn): boolean {
  const original = (obj as Record<string, unknown>)[name]
  if (typeof original !== 'function') return false
  if ((original as unknown as Record<symbol, unknown>)[kOriginal] !== undefined) return true // already ours
  const wrapper = makeWrapper(original as AnyFn)
  Object.defineProperty(wrapper, 'name', { value: original.name, configurable: true })
  Object.defineProperty(wrapper, 'length', { value: original.length, configurable: true })
  // Static properties of the original (e.g. promisify.custom) stay reachable.
  for (const key of Reflect.ownKeys(original)) {
    if (key === 'name' || key === 'length' || key === 'prototype' || key === 'arguments' || key === 'caller') continue
    const desc = Object.getOwnPropertyDescriptor(original, key)
    if (desc !== undefined) {
      try { Object.defineProperty(wrapper, key, desc) } catch {}
    }
  }
  if ('prototype' in original && original.prototype !== undefined) wrapper.prototype = original.prototype
  Object.defineProperty(wrapper, kOriginal, { value: original })
  const desc = Object.getOwnPropertyDescriptor(obj, name)
  Object.defineProperty(obj, name, {
    value: wrapper,
    writable: desc?.writable ?? true,
    enumerable: desc?.enumerable ?? false,
    configurable: true
  })
  return true
}

/** Restore obj[name] to the original if it is still our wrapper. */
export function unwrap<T extends object> (obj: T, name: string): void {
  const current = (obj as Record<string, unknown>)[name]
  const original = typeof current === 'function' ? (current as unknown as Record<symbol, unknown>)[kOriginal] : undefined
  if (original === undefined) return
  const desc = Object.getOwnPropertyDescriptor(obj, name)
  Object.defineProperty(obj, name, { value: original, writable: desc?.writable ?? true, enumerable: desc?.enumerable ?? false, configurable: true })
}

export function isWrapped (fn: unknown): boolean {
  return typeof fn === 'function' && (fn as unknown as Record<symbol, unknown>)[kOriginal] !== undefined
}

// The one AsyncLocalStorage that holds the current span (a Transaction is a Span).
import { AsyncLocalStorage } from 'node:async_hooks'
import type { Span } from './trace/span'

export const storage = new AsyncLocalStorage<Span | undefined>()

export function currentSpan (): Span | undefined {
  return storage.getStore()
}

/** Run fn with span as the current span (the only way instrumentations switch context). */
export function withSpan<T> (span: Span | undefined, fn: () => T): T {
  return storage.run(span, fn)
}

/** Run fn outside any span: the agent's own I/O never becomes part of the app's traces. */
export function outsideTrace<T> (fn: () => T): T {
  return storage.run(undefined, fn)
}

/** The manual API's "rest of this async flow" switch (beginTransaction / startSpan). */
export function enter (span: Span | undefined): void {
  storage.enterWith(span)
}

// Export accounting: every event produced is, at any moment, queued, in flight, delivered or dropped (by reason).

export type DropReason =
  | 'queue_full' // the queue was at maxQueueSize when the event ended
  | 'rejected' // the receiver accepted the request but rejected these (OTLP partialSuccess)
  | 'http_status' // a non-retryable status (400, 401, 403, 404, 413, 500, …)
  | 'too_large' // a single event larger than a whole request may be
  | 'encode' // the event could not be encoded
  | 'shutdown' // still queued when shutdown() gave up

export interface AgentStats {
  /** Events handed to the exporter (ended spans, captured errors). */
  produced: number
  /** Waiting in a queue. */
  queued: number
  /** Taken from a queue: being encoded and compressed, sent, or held for a retry. */
  inFlight: number
  delivered: number
  dropped: number
  droppedByReason: Record<DropReason, number>
  requests: number
  failedRequests: number
  retries: number
}

export function emptyStats (): AgentStats {
  return {
    produced: 0,
    queued: 0,
    inFlight: 0,
    delivered: 0,
    dropped: 0,
    droppedByReason: { queue_full: 0, rejected: 0, http_status: 0, too_large: 0, encode: 0, shutdown: 0 },
    requests: 0,
    failedRequests: 0,
    retries: 0
  }
}

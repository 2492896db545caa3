/**
 * Reads GET /v1/events/stream with fetch, because EventSource cannot send the Authorization
 * header. Parses the Server-Sent Events framing (id, event, data; comments ignored) and
 * reconnects after a dropped connection with Last-Event-ID, so nothing is missed or repeated.
 */
import { authHeaders } from './api'
import type { CloudEvent } from './model'

export type FeedState = 'connecting' | 'live' | 'reconnecting' | 'unauthorized' | 'forbidden' | 'closed'

export interface FeedHandlers {
  onEvent: (event: CloudEvent) => void
  onState: (state: FeedState) => void
}

const RETRY_MS = 3000

/** Opens the stream; call the returned function to close it. */
export function openFeed ({ onEvent, onState }: FeedHandlers): () => void {
  const controller = new AbortController()
  let lastId: string | null = null

  async function connect (): Promise<void> {
    const headers: Record<string, string> = { accept: 'text/event-stream', ...authHeaders() }
    if (lastId !== null) headers['last-event-id'] = lastId
    const response = await fetch('/v1/events/stream', { headers, signal: controller.signal, cache: 'no-store', credentials: 'omit' })
    if (response.status === 401 || response.status === 403) {
      onState(response.status === 401 ? 'unauthorized' : 'forbidden')
      return
    }
    if (!response.ok || response.body === null) throw new Error(`stream answered ${response.status}`)
    onState('live')
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      buffer += value
      let end: number
      while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '')
        dispatch(block)
      }
    }
    throw new Error('stream ended')
  }

  function dispatch (block: string): void {
    let id: string | null = null
    const data: string[] = []
    for (const line of block.split(/\r?\n/)) {
      if (line === '' || line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'id') id = value
      else if (field === 'data') data.push(value)
    }
    if (data.length === 0) return
    if (id !== null) lastId = id
    try {
      onEvent(JSON.parse(data.join('\n')) as CloudEvent)
    } catch {
      // A frame that is not a CloudEvent is not ours to show.
    }
  }

  async function run (): Promise<void> {
    onState('connecting')
    while (!controller.signal.aborted) {
      try {
        await connect()
        if (!controller.signal.aborted) return // refused: retrying would not help
      } catch {
        if (controller.signal.aborted) break
        onState('reconnecting')
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS))
      }
    }
  }

  void run()
  return () => {
    controller.abort()
    onState('closed')
  }
}

/** A message for the user, announced by screen readers (alert for errors, status otherwise). */
import type { ComponentChildren } from 'preact'

export function Notice ({ kind = 'info', children }: { kind?: 'info' | 'error' | 'ok', children: ComponentChildren }) {
  return (
    <div class={`notice ${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  )
}

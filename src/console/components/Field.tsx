/**
 * A labelled form control with its server-side error beside it: the input is marked
 * aria-invalid and points at the message (and any hint) with aria-describedby, as Pico styles
 * and screen readers expect. The label holds only the field's name, so the accessible name stays
 * short; hints and errors are descriptions.
 */
import type { ComponentChildren, JSX } from 'preact'

interface FieldProps {
  name: string
  label: string
  error?: string | undefined
  hint?: string
  children?: ComponentChildren
}

type InputProps = Omit<JSX.InputHTMLAttributes<HTMLInputElement>, 'value' | 'onInput' | 'label' | 'type' | 'name'> & FieldProps & {
  value: string
  onValue: (value: string) => void
  type?: string
}

const ids = (name: string) => ({ id: `field-${name}`, error: `field-${name}-error`, hint: `field-${name}-hint` })

function describedBy (name: string, error?: string, hint?: string): string | undefined {
  const { error: e, hint: h } = ids(name)
  const list = [error === undefined ? null : e, hint === undefined ? null : h].filter((v) => v !== null)
  return list.length === 0 ? undefined : list.join(' ')
}

function Messages ({ name, error, hint }: { name: string, error?: string | undefined, hint?: string | undefined }) {
  const { error: e, hint: h } = ids(name)
  return (
    <>
      {hint === undefined ? null : <small id={h}>{hint}</small>}
      {error === undefined ? null : <small id={e} class="field-error">{error}</small>}
    </>
  )
}

export function TextField ({ name, label, error, hint, value, onValue, type = 'text', ...rest }: InputProps) {
  const { id } = ids(name)
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        {...rest}
        id={id}
        name={name}
        type={type}
        value={value}
        onInput={(event) => onValue((event.currentTarget as HTMLInputElement).value)}
        aria-invalid={error === undefined ? undefined : 'true'}
        aria-describedby={describedBy(name, error, hint)}
      />
      <Messages name={name} error={error} hint={hint} />
    </div>
  )
}

interface SelectProps extends FieldProps {
  value: string
  onValue: (value: string) => void
  options: readonly { value: string, label: string }[]
  /** The label of an empty first option ("any", "choose…"); none when undefined. */
  empty?: string
  required?: boolean
  disabled?: boolean
}

export function SelectField ({ name, label, error, hint, value, onValue, options, empty, required, disabled }: SelectProps) {
  const { id } = ids(name)
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select
        id={id}
        name={name}
        value={value}
        required={required}
        disabled={disabled}
        onChange={(event) => onValue((event.currentTarget as HTMLSelectElement).value)}
        aria-invalid={error === undefined ? undefined : 'true'}
        aria-describedby={describedBy(name, error, hint)}
      >
        {empty === undefined ? null : <option value="">{empty}</option>}
        {options.map((option) => <option key={option.value} value={option.value}>{option.label}</option>)}
      </select>
      <Messages name={name} error={error} hint={hint} />
    </div>
  )
}

/**
 * Props for a clearable input's clear button. Mantine draws it unnamed, aria-hidden and out of the
 * tab order: reachable only by mouse. Ours is named and reachable by keyboard. aria-hidden is
 * removed, not "false": Mantine's focus trap (in a dialog) skips any element that has the attribute.
 */
export function reachableClear(what: string) {
  return { 'aria-label': `Clear ${what}`, 'aria-hidden': undefined, tabIndex: 0 } as const;
}

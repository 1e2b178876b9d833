/** A nullable database timestamp as the ISO 8601 text the API and the snapshot carry. */
export function isoOrNull(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}

import { Button, Group } from '@mantine/core';

/**
 * Previous / next for lists the API pages by keyset (`after` = the last username of a page): the
 * cursors walked so far are a stack, and a full page means there may be another.
 */
export function KeysetPager({ cursors, onChange, lastKey, full }: { cursors: string[]; onChange: (cursors: string[]) => void; lastKey: string | undefined; full: boolean }) {
  return (
    <Group>
      {cursors.length > 0 && (
        <Button variant="default" onClick={() => onChange(cursors.slice(0, -1))}>
          Previous page
        </Button>
      )}
      {full && lastKey !== undefined && (
        <Button variant="default" onClick={() => onChange([...cursors, lastKey])}>
          Next page
        </Button>
      )}
    </Group>
  );
}

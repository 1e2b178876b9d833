import { Anchor, Stack, Text, Title } from '@mantine/core';
import { Link } from 'react-router-dom';

export function NotFoundScreen() {
  return (
    <Stack>
      <Title order={2}>Nothing here</Title>
      <Text>
        This address is not a console screen. Go to the{' '}
        <Anchor component={Link} to="/projects">
          projects
        </Anchor>
        .
      </Text>
    </Stack>
  );
}

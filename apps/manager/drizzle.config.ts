import { defineConfig } from 'drizzle-kit';

// Used only by `db:generate` to write a new versioned migration from src/database/schema.ts.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/database/schema.ts',
  out: './migrations',
});

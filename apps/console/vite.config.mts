import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Served by the Manager under /ui (apps/manager/src/console/console-assets.ts): hashed files in
// assets/ are cached for a year there, index.html never.
export default defineConfig({
  base: '/ui/',
  plugins: [react()],
  build: { outDir: 'dist', assetsDir: 'assets', sourcemap: false, chunkSizeWarningLimit: 2000 },
  server: { proxy: { '/api': 'http://127.0.0.1:8080' } },
});

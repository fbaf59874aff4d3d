import { defineConfig } from 'vite';

/**
 * The dashboard's build: plain TypeScript modules bundled into web/dist, which src/routes/dashboard.ts serves
 * at `/` (index.html) and `/assets/` (hashed, so cached for good). `npx vite web` serves it for development
 * with the API proxied to a running `npm start`.
 */
export default defineConfig({
  base: '/',
  build: { outDir: 'dist', assetsDir: 'assets', target: 'es2022', sourcemap: false },
  server: {
    proxy: Object.fromEntries(
      ['/v1', '/health', '/ready'].map((prefix) => [prefix, process.env.EFFNET_URL ?? 'http://127.0.0.1:3000']),
    ),
  },
});

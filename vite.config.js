import { defineConfig } from 'vite';

// The page is a plain static site: www/ is the source root, dist/ the output that any static host
// (GitHub Pages under a sub-path included, hence base './') can serve as is.

export default defineConfig({
  root: 'www',
  base: './',
  publicDir: false,
  build: {
    outDir: '../dist',
    emptyOutDir: true,
    target: 'es2022',
    // ECharts (line + bar, tree-shaken) is one ~555 kB chunk (~187 kB gzip) that changes only when
    // the dependency does; it is split from the app code so it stays cached across releases.
    chunkSizeWarningLimit: 600,
    assetsInlineLimit: 0,
    rolldownOptions: {
      output: {
        codeSplitting: {
          groups: [{ name: 'echarts', test: /node_modules[\\/](echarts|zrender|tslib)[\\/]/ }],
        },
      },
    },
  },
  worker: { format: 'es' },
  // Same port as `make serve` (PORT ?= 8080 in the Makefile, which passes --port explicitly).
  preview: { port: 8080, strictPort: true },
  server: { port: 8080 },
});

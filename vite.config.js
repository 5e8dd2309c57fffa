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
    // ECharts (tree-shaken to the charts in use) is one ~585 kB chunk (~194 kB gzip) that changes
    // only when the dependency does; it is split from the app code so it stays cached across
    // releases. It is not part of the first load: chart-host.js imports charts.js (its own small
    // chunk, which imports this one) only when a chart is needed, so index.html has no
    // modulepreload of it; tests/e2e/page.test.mjs checks that, and the first load's size.
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

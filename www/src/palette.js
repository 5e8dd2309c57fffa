// Categorical colours (segments, mix values), in a fixed order; "(other)" and "(empty)" are grey
// so they never look like a real value. Shared by the charts (charts.js, loaded when the first
// chart is needed) and the tables' swatches (on the first screen), so it is kept out of the chart
// module.
//
// The first eight are Okabe & Ito's palette (2008), made to stay apart for people with any of the
// three colour-vision deficiencies: tests/e2e/palette.test.mjs simulates protanopia, deuteranopia
// and tritanopia and checks every pair (and the grey) keeps a CIEDE2000 difference of 10 or more.
// The four after them (Paul Tol's "muted" set) only extend a long legend; there the names next to
// the swatches (legends, tables) tell the values apart.
export const PALETTE = ['#0072b2', '#e69f00', '#009e73', '#d55e00', '#56b4e9', '#cc79a7', '#f0e442', '#000000', '#332288', '#999933', '#882255', '#44aa99'];
// Light enough to stay apart from every colour above under the three deficiencies.
export const GREY = '#c8ced6';
export const colorFor = (value, i) => (value === '(other)' || value === '(empty)' || value === '' ? GREY : PALETTE[i % PALETTE.length]);

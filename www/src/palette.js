// Categorical colours (segments, mix values), distinguishable and in a fixed order; "(other)" and
// "(empty)" are grey so they never look like a real value. Shared by the charts (charts.js, loaded
// when the first chart is needed) and the tables' swatches (on the first screen), so it is kept
// out of the chart module.
const PALETTE = ['#635bff', '#0a9396', '#f59e0b', '#e11d48', '#0ea5e9', '#16a34a', '#7c3aed', '#db2777', '#ca8a04', '#0891b2', '#65a30d', '#9333ea'];
const GREY = '#a3acb9';
export const colorFor = (value, i) => (value === '(other)' || value === '(empty)' || value === '' ? GREY : PALETTE[i % PALETTE.length]);

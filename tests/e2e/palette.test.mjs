// Issue 7, "Hardening": colours that survive colour blindness, without a browser. The first eight
// categorical colours (www/src/palette.js), the grey of "(other)", and the good / bad colours of
// deltas and thresholds (www/src/style.css) are passed through a simulation of protanopia,
// deuteranopia and tritanopia (Machado, Oliveira & Fernandes 2009, severity 1.0, applied to linear
// RGB) and compared with CIEDE2000 in CIELAB (D65). Text colours are checked for WCAG contrast.
//
// The threshold: a CIEDE2000 difference of 1 is about the smallest one sees between two large
// patches side by side; chart marks are small (a legend swatch, a 2 px line, a thin bar) and are
// matched across a distance, where differences under ~5 get confused (Szafir 2017, "Modeling
// Color Difference for Visualization Design"). We ask for 10, twice that, for every pair under
// every deficiency. Okabe & Ito's palette keeps at least ~10.9 (orange against reddish purple,
// under tritanopia); the previous palette fell to 3.2 (crimson against green, deuteranopia).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers.mjs';
import { GREY, PALETTE, colorFor } from '../../www/src/palette.js';

const MIN_DELTA_E = 10;
const MIN_TEXT_CONTRAST = 4.5;

// Machado et al. 2009, severity 1.0: matrices on linear RGB.
const MACHADO = {
  protanopia: [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
  deuteranopia: [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.01182, 0.04294, 0.968881]],
  tritanopia: [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.3039]],
};
const toLin = (c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
const hexToLin = (hex) => { const n = parseInt(hex.slice(1), 16); return [n >> 16, (n >> 8) & 255, n & 255].map((c) => toLin(c / 255)); };
const simulate = (lin, m) => m.map((row) => Math.min(1, Math.max(0, row[0] * lin[0] + row[1] * lin[1] + row[2] * lin[2])));
function linToLab([r, g, b]) {
  const X = 0.4124564 * r + 0.3575761 * g + 0.1804375 * b, Y = 0.2126729 * r + 0.7151522 * g + 0.072175 * b, Z = 0.0193339 * r + 0.119192 * g + 0.9503041 * b;
  const f = (t) => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);
  const [fx, fy, fz] = [f(X / 0.95047), f(Y / 1), f(Z / 1.08883)];
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}
function ciede2000([L1, a1, b1], [L2, a2, b2]) {
  const rad = Math.PI / 180, deg = 180 / Math.PI;
  const C1 = Math.hypot(a1, b1), C2 = Math.hypot(a2, b2), Cb = (C1 + C2) / 2;
  const G = 0.5 * (1 - Math.sqrt(Cb ** 7 / (Cb ** 7 + 25 ** 7)));
  const a1p = (1 + G) * a1, a2p = (1 + G) * a2;
  const C1p = Math.hypot(a1p, b1), C2p = Math.hypot(a2p, b2);
  const h = (b, a) => { if (b === 0 && a === 0) return 0; const x = Math.atan2(b, a) * deg; return x < 0 ? x + 360 : x; };
  const h1p = h(b1, a1p), h2p = h(b2, a2p);
  const dLp = L2 - L1, dCp = C2p - C1p;
  let dhp = 0;
  if (C1p * C2p !== 0) { dhp = h2p - h1p; if (dhp > 180) dhp -= 360; else if (dhp < -180) dhp += 360; }
  const dHp = 2 * Math.sqrt(C1p * C2p) * Math.sin((dhp / 2) * rad);
  const Lbp = (L1 + L2) / 2, Cbp = (C1p + C2p) / 2;
  let hbp = h1p + h2p;
  if (C1p * C2p !== 0) { if (Math.abs(h1p - h2p) > 180) hbp += h1p + h2p < 360 ? 360 : -360; hbp /= 2; }
  const T = 1 - 0.17 * Math.cos((hbp - 30) * rad) + 0.24 * Math.cos(2 * hbp * rad) + 0.32 * Math.cos((3 * hbp + 6) * rad) - 0.2 * Math.cos((4 * hbp - 63) * rad);
  const dTheta = 30 * Math.exp(-(((hbp - 275) / 25) ** 2));
  const Rc = 2 * Math.sqrt(Cbp ** 7 / (Cbp ** 7 + 25 ** 7));
  const Sl = 1 + (0.015 * (Lbp - 50) ** 2) / Math.sqrt(20 + (Lbp - 50) ** 2), Sc = 1 + 0.045 * Cbp, Sh = 1 + 0.015 * Cbp * T;
  const Rt = -Math.sin(2 * dTheta * rad) * Rc;
  return Math.sqrt((dLp / Sl) ** 2 + (dCp / Sc) ** 2 + (dHp / Sh) ** 2 + Rt * (dCp / Sc) * (dHp / Sh));
}

const lab = (hex, deficiency) => linToLab(deficiency ? simulate(hexToLin(hex), MACHADO[deficiency]) : hexToLin(hex));
const deltaE = (a, b, deficiency) => ciede2000(lab(a, deficiency), lab(b, deficiency));
const luminance = (hex) => {
  const [r, g, b] = hexToLin(hex);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
/** WCAG 2.1 contrast ratio. */
const contrast = (a, b) => {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
};

/** The custom properties of style.css's :root. */
const css = readFileSync(join(ROOT, 'www', 'src', 'style.css'), 'utf8');
const root = Object.fromEntries([...css.slice(0, css.indexOf('}')).matchAll(/--([\w-]+):\s*(#[0-9a-f]{6})\b/gi)].map((m) => [m[1], m[2].toLowerCase()]));

/** Every pair of `colours` under each deficiency: [{ a, b, deficiency, d }] below the threshold. */
function closePairs(colours) {
  const close = [];
  for (const deficiency of [null, ...Object.keys(MACHADO)]) {
    for (let i = 0; i < colours.length; i++) {
      for (let j = i + 1; j < colours.length; j++) {
        const d = deltaE(colours[i], colours[j], deficiency);
        if (d < MIN_DELTA_E) close.push(`${colours[i]} / ${colours[j]} under ${deficiency || 'normal vision'}: ${d.toFixed(1)}`);
      }
    }
  }
  return close;
}

test('the simulation and the colour difference match published values', () => {
  // Sharma, Wu & Dalal (2005), the CIEDE2000 test data, pairs 1 and 17.
  assert.ok(Math.abs(ciede2000([50, 2.6772, -79.7751], [50, 0, -82.7485]) - 2.0425) < 1e-4);
  assert.ok(Math.abs(ciede2000([50, 2.5, 0], [73, 25, -18]) - 27.1492) < 1e-4);
  // Greys are left alone by every deficiency; red and green meet under deuteranopia.
  for (const deficiency of Object.keys(MACHADO)) assert.ok(deltaE('#808080', '#808080', deficiency) < 1e-9);
  assert.ok(deltaE('#cc0000', '#00aa00', 'deuteranopia') < deltaE('#cc0000', '#00aa00', null) / 3);
});

test(`the first eight categorical colours and the grey stay ${MIN_DELTA_E} ΔE2000 apart under protanopia, deuteranopia and tritanopia`, (t) => {
  const first = PALETTE.slice(0, 8);
  assert.equal(new Set(first).size, 8);
  assert.equal(colorFor('x', 0), first[0]);
  assert.equal(colorFor('(other)', 3), GREY);
  const close = closePairs([...first, GREY]);
  assert.deepEqual(close, [], 'colour pairs too close');
  for (const deficiency of Object.keys(MACHADO)) {
    let min = Infinity;
    for (let i = 0; i < 9; i++) for (let j = i + 1; j < 9; j++) min = Math.min(min, deltaE([...first, GREY][i], [...first, GREY][j], deficiency));
    t.diagnostic(`${deficiency}: the closest pair is ${min.toFixed(1)} ΔE2000 apart`);
  }
});

test('good and bad stay apart under every deficiency, as marks and as text', () => {
  for (const name of ['good', 'bad', 'good-text', 'bad-text', 'good-soft', 'bad-soft']) assert.match(root[name] || '', /^#/, `--${name} in style.css`);
  assert.deepEqual(closePairs([root.good, root.bad]), []);
  assert.deepEqual(closePairs([root['good-text'], root['bad-text']]), []);
});

test(`text colours keep a contrast of ${MIN_TEXT_CONTRAST}:1 on the backgrounds they are used on`, () => {
  const pairs = [
    ['good-text', ['#ffffff', root['good-soft'], root.bg]],
    ['bad-text', ['#ffffff', root['bad-soft'], root.bg]],
    ['text', ['#ffffff', root.bg]],
    ['text-2', ['#ffffff', root.bg, '#eef1f5']],
    ['muted', ['#ffffff', root.bg, '#eef1f5', '#f0f2f5', root['good-soft'], root['bad-soft']]],
    ['faint', ['#ffffff', root.bg]],
    ['primary', ['#ffffff', root.bg, '#eef1f5']],
    ['primary-strong', ['#ffffff', root['primary-soft']]],
    ['warn', ['#ffffff', root['warn-soft']]],
  ];
  const low = [];
  for (const [name, backgrounds] of pairs) {
    for (const bg of backgrounds) {
      const ratio = contrast(root[name], bg);
      if (!(ratio >= MIN_TEXT_CONTRAST)) low.push(`--${name} ${root[name]} on ${bg}: ${ratio.toFixed(2)}`);
    }
  }
  // White text on the primary buttons.
  if (contrast('#ffffff', root.primary) < MIN_TEXT_CONTRAST) low.push(`white on --primary ${root.primary}`);
  assert.deepEqual(low, []);
});

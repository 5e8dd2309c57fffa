// The address bar follows the view: after every change (main.js calls write() through its
// followView), the URL fragment is replaced by the view's share link (share.js), so that copying
// the address or reloading the page gives the view on screen. main.js imports this module after
// the first change of the view only, so the first load does not carry it (nor share.js).
//
// history.replaceState, never location.hash: no history entry per click, and no hashchange
// (main.js opens the link of a hashchange: the page would reload its own view). `published`
// remembers the fragment this page wrote, so that coming back to it is not taken for a new link.
//
// The address never gets data it did not have: the user's files are named by name, size and
// SHA-256 as in a link of the Share panel (embedding stays the panel's explicit, warned choice).
// Only files that arrived embedded in the link this page was opened with stay embedded: their
// data is in the address already, and a reload could not find them otherwise.
import { hashFile, knownHash } from './file-hash.js';
import { LinkError, encodeView, viewOfState } from './share.js';

let published = null; // '#v=1&s=…' written by this page, or null

/** Puts the link `fragment` (without '#') in the address; null takes the fragment out. */
export function publish(fragment) {
  const clean = `${location.pathname}${location.search}`;
  history.replaceState(history.state, '', fragment === null ? clean : `${clean}#${fragment}`);
  published = fragment === null ? null : `#${fragment}`;
}

/** Is `hash` (with '#') the link this page put in the address? */
export const isPublished = (hash) => published !== null && hash === published;

const userFiles = (state) => state.files.filter((f) => !f.sample);

/**
 * The dataset part of the link of what the page holds, and the embedded data (or null): the
 * sample's seed and size, the files (with the hashes known so far unless `hashes` gives them),
 * or the files that came embedded in a link.
 */
function datasetWith(app, hashes = null) {
  const { state } = app;
  if (app.isSample()) return { dataset: { kind: 'sample', seed: state.sample.seed, rows: state.sample.rows }, data: null };
  const files = userFiles(state);
  const embedded = files.length > 0 && files.every((f) => f.packed);
  const entries = files.map((f, i) => ({ name: f.name, size: f.file.size, sha256: (hashes ? hashes[i] : knownHash(f.file)) ?? null, role: f.role }));
  return embedded ? { dataset: { kind: 'embedded', files: entries }, data: files.map((f) => f.packed) } : { dataset: { kind: 'files', files: entries }, data: null };
}

/**
 * The same, with every file's hash: computed now if not known yet (`onCheck(name)` is told, so
 * the page can say "Checking payments.csv…").
 */
export async function datasetOf(app, onCheck = null) {
  const files = userFiles(app.state);
  const hashes = app.isSample() ? null : await Promise.all(files.map((f) => hashFile(f.file, onCheck)));
  return datasetWith(app, hashes);
}

/**
 * The writer: `app` is main.js's side ({ state, isSample(), follow(), status(text) }).
 * write() puts the view's link in the address at once and returns what the address holds:
 * 'current', 'checking' (a file's hash is being computed in the background; the link names the
 * file by name and size meanwhile, and is written again once the hash is known) or 'none' (the
 * view is too large for a link).
 */
export function createLiveLink(app) {
  const checking = new Set(); // files being hashed for the address

  function write() {
    const { dataset, data } = datasetWith(app);
    try {
      publish(encodeView(viewOfState(app.state, dataset), data));
    } catch (err) {
      if (!(err instanceof LinkError)) throw err;
      // Better no link than the link of another view: a reload shows the default view.
      publish(null);
      app.status(`The address cannot hold this view (${err.message.replace(/\.$/, '')}).`);
      return 'none';
    }
    const unknown = dataset.kind === 'files' ? userFiles(app.state).filter((f) => knownHash(f.file) === undefined) : [];
    if (!unknown.length) {
      app.status('');
      return 'current';
    }
    for (const f of unknown) {
      if (checking.has(f.file)) continue;
      checking.add(f.file);
      // In the background: the page stays usable; main.js writes the address again when done.
      hashFile(f.file, (name) => app.status(`Checking ${name}… (for the link in the address)`)).then(() => {
        checking.delete(f.file);
        if (!checking.size) app.status('');
        app.follow();
      });
    }
    return 'checking';
  }

  return {
    write,
    /** The default view is on screen again: the address without a link. */
    clear() {
      publish(null);
      app.status('');
    },
    /** The skip link (or any in-page anchor) replaced the view's link: put it back. */
    restore() {
      if (published && location.hash !== published) history.replaceState(history.state, '', `${location.pathname}${location.search}${published}`);
    },
  };
}
